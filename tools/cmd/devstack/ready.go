package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// waitSupervisor waits until the supervisor serves (livez, within limit)
// and then until it is ready. A supervisor catching up with a backlog of
// job records says so on /readyz; while what it says changes, the wait
// goes on (a line every few seconds), and only a wait with no change for
// limit gives up: a million records take minutes, not forever.
func waitSupervisor(ctx context.Context, base string, limit time.Duration) error {
	if err := waitHTTP(ctx, base+"/livez", limit); err != nil {
		return err
	}
	last, lastChange, lastSaid := "", time.Now(), time.Time{}
	for {
		status, why := readyz(base + "/readyz")
		if status == http.StatusOK {
			return nil
		}
		if why != last {
			last, lastChange = why, time.Now()
		}
		if time.Since(lastChange) > limit {
			return fmt.Errorf("%s/readyz: %w: %q for %s", base, errNotReady, last, limit)
		}
		if strings.Contains(why, "catching up") && time.Since(lastSaid) > 5*time.Second {
			say("devstack", "supervisor: %s", why)
			lastSaid = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// readyz returns /readyz's status and the reason it gives.
func readyz(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, strings.TrimSpace(string(body))
}
