package api

import (
	"math"
	"sync"
	"time"
)

// limiter is a token bucket per credential, kept as a theoretical arrival
// time (GCRA): each key may make perMinute submissions at once, then one
// every minute/perMinute. Integer time, so a bucket refills exactly when
// it should. Keys are the senders' identities ("http:submit",
// "http:admin", "http:local", a client token's name): a set fixed by the
// configuration, so entries are never dropped.
type limiter struct {
	perMinute int
	now       func() time.Time

	mu sync.Mutex
	// tat is, per key, when its bucket is full again.
	tat map[string]time.Time
}

// newLimiter makes a limiter; perMinute <= 0 lets everything through.
func newLimiter(perMinute int, now func() time.Time) *limiter {
	return &limiter{perMinute: perMinute, now: now, tat: map[string]time.Time{}}
}

// take spends one submission of key's bucket; when none is left it says
// how long until one is.
func (l *limiter) take(key string) (ok bool, retryAfter time.Duration) {
	if l.perMinute <= 0 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	each := time.Minute / time.Duration(l.perMinute)
	burst := each * time.Duration(l.perMinute)
	tat := l.tat[key]
	if tat.Before(now) {
		tat = now
	}
	next := tat.Add(each)
	if over := next.Sub(now) - burst; over > 0 {
		return false, over
	}
	l.tat[key] = next
	return true, 0
}

// retrySeconds is a Retry-After value: whole seconds, at least one.
func retrySeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
