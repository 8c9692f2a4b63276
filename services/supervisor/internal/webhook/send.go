package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Attempt outcomes (the outcome label of cyberimage_webhook_attempts_total).
const (
	OutcomeDelivered    = "delivered"
	OutcomeGone         = "gone"
	OutcomeHTTPError    = "http_error"
	OutcomeNetworkError = "network_error"
	OutcomeRefused      = "refused"
)

// Outcomes lists every attempt outcome.
func Outcomes() []string {
	return []string{OutcomeDelivered, OutcomeGone, OutcomeHTTPError, OutcomeNetworkError, OutcomeRefused}
}

// Call is one webhook call to make.
type Call struct {
	URL      string
	JobID    string
	Delivery string
	Body     []byte
	// Exact: the allow list names the host exactly (see job.CallbackMatch).
	Exact bool
}

// Poster makes one call and returns the HTTP status; an error when no
// answer came.
type Poster interface {
	Post(ctx context.Context, c Call) (int, error)
}

// Sender is the Poster over HTTP: each call signed, within Timeout.
type Sender struct {
	Client  *http.Client // NewClient's, with its address check
	Secret  []byte
	Timeout time.Duration
}

// maxAnswer bounds what is read of an answer: its body means nothing here,
// and reading a little lets the connection be kept.
const maxAnswer = 4 << 10

// Post sends the call once.
func (s *Sender) Post(ctx context.Context, c Call) (int, error) {
	ctx, cancel := context.WithTimeout(withExact(ctx, c.Exact), s.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(c.Body))
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrRefused, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "cyberimage-webhook/1")
	req.Header.Set(HeaderJobID, c.JobID)
	req.Header.Set(HeaderDelivery, c.Delivery)
	req.Header.Set(HeaderSignature, Sign(s.Secret, time.Now(), c.Body))
	resp, err := s.Client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// judge is the fate of an attempt, in one place: 2xx is delivered, 410
// Gone ends the delivery (the receiver wants no more), a refusal (allow
// list, address) is never retried, and any other answer or failure to get
// one is retried.
func judge(code int, err error) (outcome string, retry bool) {
	switch {
	case errors.Is(err, ErrRefused):
		return OutcomeRefused, false
	case err != nil:
		return OutcomeNetworkError, true
	case code >= 200 && code < 300:
		return OutcomeDelivered, false
	case code == http.StatusGone:
		return OutcomeGone, false
	default:
		return OutcomeHTTPError, true
	}
}
