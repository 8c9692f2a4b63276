// Package httpwait waits for an HTTP endpoint to answer 200 OK: how the
// dev stack and the benches know a process they started is up. It is
// apart from both so that neither pulls in the other's code.
package httpwait

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// ErrTimeout is Until's error when the endpoint gave no 200 OK in time.
var ErrTimeout = errors.New("no 200 OK in time")

// ErrStopped is Until's error when its stop channel closed first (the
// process being waited for exited, say).
var ErrStopped = errors.New("stopped before 200 OK")

// Until asks url with client every interval until it answers 200 OK. It
// gives up with ctx's error when ctx ends, ErrStopped when stop closes
// (a nil stop never does) and ErrTimeout once limit has passed; callers
// word these for their own output.
func Until(ctx context.Context, client *http.Client, url string, limit, interval time.Duration, stop <-chan struct{}) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-stop:
			return ErrStopped
		case <-time.After(interval):
		}
	}
	return ErrTimeout
}
