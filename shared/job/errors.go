package job

import "fmt"

// Code is a stable, machine-readable rejection reason. Clients match on it,
// so codes are never renamed once published.
type Code string

// RetryLater tells a refusal that says when to try again: the client's
// queued jobs are at their cap, or it sent faster than its rate. The
// answer carries the hint (retry_after_s; HTTP Retry-After).
func (c Code) RetryLater() bool { return c == CodeQuotaExceeded || c == CodeRateLimited }

// Rejection codes, one per validation rule.
const (
	CodeInvalidJSON           Code = "invalid_json"
	CodeTooLarge              Code = "too_large"
	CodeUnknownField          Code = "unknown_field"
	CodeWrongType             Code = "wrong_type"
	CodePromptRequired        Code = "prompt_required"
	CodePromptTooLong         Code = "prompt_too_long"
	CodeNegativePromptTooLong Code = "negative_prompt_too_long"
	CodeUnknownModel          Code = "unknown_model"
	CodeWidthOutOfRange       Code = "width_out_of_range"
	CodeWidthNotMultipleOf8   Code = "width_not_multiple_of_8"
	CodeHeightOutOfRange      Code = "height_out_of_range"
	CodeHeightNotMultipleOf8  Code = "height_not_multiple_of_8"
	CodeStepsOutOfRange       Code = "steps_out_of_range"
	CodeGuidanceOutOfRange    Code = "guidance_out_of_range"
	CodeNumImagesOutOfRange   Code = "num_images_out_of_range"
	CodeRequestIDInvalid      Code = "request_id_invalid"
	CodeMemoryBudgetExceeded  Code = "memory_budget_exceeded"
	CodePriorityInvalid       Code = "priority_invalid"
	CodeDeadlineInvalid       Code = "deadline_invalid"
	CodeDeadlineOutOfRange    Code = "deadline_out_of_range"
	CodeExpiresInOutOfRange   Code = "expires_in_out_of_range"
	CodeCallbackInvalid       Code = "callback_url_invalid"
	CodeCallbackNotAllowed    Code = "callback_not_allowed"
	CodeInternal              Code = "internal"
	// Quota refusals: the client's queued jobs are at its cap, or it sent
	// more than its rate allows; the answer carries a retry hint.
	CodeQuotaExceeded Code = "quota_exceeded"
	CodeRateLimited   Code = "rate_limited"

	// Codes of jobs that failed after they were accepted.
	CodeGenerationFailed Code = "generation_failed"
	CodeRetriesExhausted Code = "retries_exhausted"
	CodeCancelled        Code = "cancelled"
	// CodeDeadlineExceeded: the job was not started by its deadline and
	// was cancelled without running.
	CodeDeadlineExceeded Code = "deadline_exceeded"

	// Codes of submissions over HTTP that never got ingest's own answer.
	CodeQueueFull         Code = "queue_full"         // the request stream is full; nothing was stored
	CodeIngestUnavailable Code = "ingest_unavailable" // stored, but ingest did not answer in time
	CodeBadAnswer         Code = "bad_answer"         // ingest's answer did not decode
)

// ValidationError is a rejected request: the code, the offending field (when
// there is one) and a message a person can act on.
type ValidationError struct {
	Code    Code
	Field   string
	Message string
}

func (e *ValidationError) Error() string { return string(e.Code) + ": " + e.Message }

// Is makes errors.Is(err, &ValidationError{Code: c}) match on the code alone.
func (e *ValidationError) Is(target error) bool {
	t, ok := target.(*ValidationError)
	return ok && t.Code == e.Code
}

func reject(code Code, field, format string, args ...any) *ValidationError {
	return &ValidationError{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}
