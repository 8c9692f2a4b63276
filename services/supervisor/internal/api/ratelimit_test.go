package api

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestLimiterRefillsAtItsRate(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := newLimiter(6, clock.Now) // one every 10 s, six at once
	for i := range 6 {
		ok, _ := l.take("a")
		require.True(t, ok, "burst %d", i)
	}
	ok, wait := l.take("a")
	require.False(t, ok)
	require.Equal(t, 10*time.Second, wait)
	ok, _ = l.take("b")
	require.True(t, ok, "another key has its own bucket")
	clock.Add(9 * time.Second)
	ok, wait = l.take("a")
	require.False(t, ok)
	require.Equal(t, time.Second, wait)
	clock.Add(time.Second)
	ok, _ = l.take("a")
	require.True(t, ok)
	clock.Add(time.Hour)
	for range 6 {
		ok, _ = l.take("a")
		require.True(t, ok)
	}
	ok, _ = l.take("a")
	require.False(t, ok, "an idle hour refills the bucket, not beyond")

	off := newLimiter(0, clock.Now)
	for range 1000 {
		ok, _ := off.take("a")
		require.True(t, ok)
	}
}

// TestSubmitsAreRateLimitedPerToken: past its rate a token's submissions
// are answered 429 with Retry-After and the code rate_limited, in either
// API's shape, while another token's go on; the bucket refills with time.
func TestSubmitsAreRateLimitedPerToken(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	f := newAPIFixture(t, withTokens, func(p *Params) { p.SubmitRate = 2; p.Now = clock.Now })
	fakeIngest(t, f.ingest(t))
	const remote = "192.0.2.7:4000"
	submit := func(token string) int {
		return f.send(t, "POST", "/v1/jobs", remote, `{"prompt":"p"}`, bearer(token)).Code
	}
	require.Equal(t, http.StatusAccepted, submit(submitToken))
	require.Equal(t, http.StatusAccepted, submit(submitToken))
	rec := f.send(t, "POST", "/v1/jobs", remote, `{"prompt":"p"}`, bearer(submitToken))
	require.Equal(t, http.StatusTooManyRequests, rec.Code)
	require.Equal(t, "30", rec.Header().Get("Retry-After"))
	require.Equal(t, "rate_limited", errorCode(t, rec))
	legacy := f.send(t, "POST", "/api/generate", remote, `{"model_id":"demo","prompt":"p"}`, bearer(submitToken))
	require.Equal(t, http.StatusTooManyRequests, legacy.Code)
	require.Equal(t, "rate_limited", errorCode(t, legacy))
	require.Contains(t, legacy.Body.String(), `"status": "error"`)

	require.Equal(t, http.StatusAccepted, submit(testToken), "the admin token has its own bucket")
	require.Equal(t, http.StatusUnauthorized, submit("nope"), "a wrong token is refused before it costs anything")
	clock.Add(30 * time.Second)
	require.Equal(t, http.StatusAccepted, submit(submitToken), "refilled")
	require.Equal(t, http.StatusTooManyRequests, submit(submitToken))
}
