package job

import "testing"

// Only the quota refusals tell the client to try again later; every
// other rejection stands until the request changes.
func TestOnlyQuotaRefusalsRetryLater(t *testing.T) {
	for _, c := range []Code{CodeQuotaExceeded, CodeRateLimited} {
		if !c.RetryLater() {
			t.Errorf("%s: RetryLater false", c)
		}
	}
	for _, c := range []Code{CodeInvalidJSON, CodeMemoryBudgetExceeded, CodeCallbackNotAllowed, CodeInternal, CodeGenerationFailed, ""} {
		if c.RetryLater() {
			t.Errorf("%q: RetryLater true", c)
		}
	}
}
