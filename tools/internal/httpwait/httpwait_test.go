package httpwait

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestUntilWaitsForOK: answers other than 200 are retried until one is.
func TestUntilWaitsForOK(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	if err := Until(context.Background(), srv.Client(), srv.URL, 10*time.Second, time.Millisecond, nil); err != nil {
		t.Fatalf("Until: %v", err)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

// TestUntilGivesUp: each way of giving up has its own error.
func TestUntilGivesUp(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	if err := Until(context.Background(), srv.Client(), srv.URL, 20*time.Millisecond, time.Millisecond, nil); !errors.Is(err, ErrTimeout) {
		t.Errorf("past the limit: %v, want ErrTimeout", err)
	}
	stop := make(chan struct{})
	close(stop)
	if err := Until(context.Background(), srv.Client(), srv.URL, 10*time.Second, time.Millisecond, stop); !errors.Is(err, ErrStopped) {
		t.Errorf("stopped: %v, want ErrStopped", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Until(ctx, srv.Client(), srv.URL, 10*time.Second, time.Millisecond, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v, want context.Canceled", err)
	}
}
