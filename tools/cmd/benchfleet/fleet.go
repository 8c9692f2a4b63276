package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"cyberimage/shared/natsauth"
	"cyberimage/tools/internal/benchstack"
)

// emulator is one emulator process, as the harness sees it.
type emulator struct {
	proc  *benchstack.Proc
	addr  string // its figures endpoint
	count int
}

func (e *emulator) stats(ctx context.Context, take bool) (emuStats, error) {
	var s emuStats
	url := "http://" + e.addr + "/stats"
	if take {
		url += "?take=1"
	}
	return s, getJSON(ctx, url, &s)
}

// addRunners issues credentials for runners first..first+count-1 in their
// own names and starts one emulator process for them, then waits until
// every one is connected and pulling.
func (h *harness) addRunners(ctx context.Context, first, count int) error {
	for i := first; i < first+count; i++ {
		if _, err := h.cl.Creds.Identity(natsauth.Runner, runnerName(i)); err != nil {
			return err
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	addr, err := benchstack.LoopbackAddr()
	if err != nil {
		return err
	}
	args := []string{"emulate", "-url", h.cl.URL(), "-creds", h.cl.Creds.Dir, "-first", strconv.Itoa(first),
		"-count", strconv.Itoa(count), "-stats", addr, "-slots", strconv.Itoa(h.o.slots)}
	if h.o.put {
		args = append(args, "-s3", h.s3.Endpoint, "-bucket", h.s3.Bucket)
	}
	p, err := h.ps.Start(fmt.Sprintf("emulator-%d", len(h.emus)+1), exe, args, nil)
	if err != nil {
		return err
	}
	e := &emulator{proc: p, addr: addr, count: count}
	h.emus = append(h.emus, e)
	// Connecting runs at 100 runners a second, plus a margin.
	deadline := time.Now().Add(time.Duration(count)*10*time.Millisecond + time.Minute)
	for time.Now().Before(deadline) {
		if st, err := e.stats(ctx, false); err == nil && st.Ready == count {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.Exited():
			return fmt.Errorf("%s exited (see %s)", p.Name, h.ps.LogPath(p.Name))
		case <-time.After(250 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s: runners not all connected by %s", p.Name, deadline.Format(time.TimeOnly))
}

// running sums the jobs the emulators are running now.
func (h *harness) running(ctx context.Context) (running, held int64) {
	for _, e := range h.emus {
		if st, err := e.stats(ctx, false); err == nil {
			running += st.Running
			held += st.Held
		}
	}
	return running, held
}
