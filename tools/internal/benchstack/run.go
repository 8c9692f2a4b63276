package benchstack

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Context is a bench run's context: cancelled by Ctrl-C or SIGTERM (the
// deferred cleanup then stops every child), and at the deadline.
func Context(deadline time.Duration) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(ctx, deadline)
	return ctx, func() { cancel(); stop() }
}

// Progress prints a line of progress on stderr, with the seconds since
// began: stdout holds only the report.
func Progress(began time.Time) func(format string, args ...any) {
	return func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(began).Seconds(), fmt.Sprintf(format, args...))
	}
}
