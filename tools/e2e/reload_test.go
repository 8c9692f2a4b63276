package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/statusapi"
)

// TestOperatorReload: an operator's reload order reaches the runner, which
// reloads its models and reports the order done in its heartbeat, then
// takes work again; an unknown runner is 404.
func TestOperatorReload(t *testing.T) {
	s := newStack(t)
	s.startAll("runner-1")

	require.Equal(t, http.StatusUnauthorized, postWith(t, s.url("/v1/runners/runner-1/reload"), nil))
	require.Equal(t, http.StatusNotFound, post(t, s.url("/v1/runners/ghost/reload")))
	var order struct {
		Order string `json:"order"`
	}
	resp := postHTTP(t, s.url("/v1/runners/runner-1/reload"), "", adminAuth, &order)
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	require.NotEmpty(t, order.Order)

	require.Eventually(t, func() bool {
		var st statusapi.Status
		if s.getJSON("/status", &st) != http.StatusOK {
			return false
		}
		for _, r := range st.Runners {
			if r.Runner == "runner-1" && r.LastReload == order.Order && r.Health == "healthy" {
				return true
			}
		}
		return false
	}, 30*time.Second, 100*time.Millisecond, "the runner reported the reload done and is healthy")
	done := request(t, s.client, fmtReq("after the reload", 64, 64, 1, ""))
	waitCompleted(t, s, done.JobID, time.Minute)
}
