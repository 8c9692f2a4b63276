package benchstack

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"
)

// FreePort is a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// LoopbackAddr is host:port on a free loopback port, for a service's HTTP.
func LoopbackAddr() (string, error) {
	port, err := FreePort()
	if err != nil {
		return "", err
	}
	return "127.0.0.1:" + strconv.Itoa(port), nil
}

// WaitHTTP polls url every 100 ms until it answers 200, the process exits
// or limit ends.
func WaitHTTP(ctx context.Context, p *Proc, url string, limit time.Duration) error {
	return PollHTTP(ctx, p, url, limit, 100*time.Millisecond)
}

// PollHTTP is WaitHTTP polling every interval: a bench timing a start to
// ready polls often. A request may take up to 30 s (a service answers
// slowly while it catches up, and that is not a failure to answer).
func PollHTTP(ctx context.Context, p *Proc, url string, limit, interval time.Duration) error {
	client := &http.Client{Timeout: 30 * time.Second}
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
		case <-p.exited:
			return fmt.Errorf("%s exited before it was ready (see its log)", p.Name)
		case <-time.After(interval):
		}
	}
	return fmt.Errorf("%s not ready after %s", p.Name, limit)
}
