package benchstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"cyberimage/tools/internal/httpwait"
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
	err := httpwait.Until(ctx, &http.Client{Timeout: 30 * time.Second}, url, limit, interval, p.exited)
	switch {
	case errors.Is(err, httpwait.ErrStopped):
		return fmt.Errorf("%s exited before it was ready (see its log)", p.Name)
	case errors.Is(err, httpwait.ErrTimeout):
		return fmt.Errorf("%s not ready after %s", p.Name, limit)
	}
	return err
}
