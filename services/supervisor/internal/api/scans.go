package api

import (
	"context"
	"errors"
	"time"

	"cyberimage/services/supervisor/internal/index"
)

// A listing the index cannot answer from its window of the newest jobs
// (an old page, a rare search) reads the whole bucket: seconds at a
// million records. Such scans are few at once and bounded in time, so a
// flood of them is answered 429 and costs the bucket at most Scans readers,
// while everything the window answers (the console's pages and searches)
// goes on.
var (
	errScansBusy   = errors.New("too many searches reach past the newest jobs right now; narrow it (status, model) or retry shortly")
	errScanTimeout = errors.New("the search reached past the newest jobs and did not finish in time; narrow it (status, model)")
)

// scanGate admits a few bucket scans at once; a full gate refuses, it
// does not queue, since a queue would hold the flood's requests open.
type scanGate chan struct{}

func (g scanGate) try() (release func(), ok bool) {
	select {
	case g <- struct{}{}:
		return func() { <-g }, true
	default:
		return nil, false
	}
}

// listJobs is index.List with the scan bounded. It first asks with a
// context that is already cancelled: the index answers from memory
// without looking at the context, and only a listing that must read the
// bucket fails. That one then waits for nothing: it takes a scan slot
// (errScansBusy when there is none) and has scanTimeout.
func (s *Server) listJobs(ctx context.Context, f index.Filter, after *index.Cursor, limit int) ([]index.Entry, *index.Cursor, error) {
	memoryOnly, cancel := context.WithCancel(ctx)
	cancel()
	page, next, err := s.p.Index.List(memoryOnly, f, after, limit)
	if err == nil {
		return page, next, nil
	}
	release, ok := s.scans.try()
	if !ok {
		return nil, nil, errScansBusy
	}
	defer release()
	bounded, cancel := context.WithTimeout(ctx, s.limits.ScanTimeout)
	defer cancel()
	page, next, err = s.p.Index.List(bounded, f, after, limit)
	if err != nil && errors.Is(bounded.Err(), context.DeadlineExceeded) {
		return nil, nil, errScanTimeout
	}
	return page, next, err
}

// scanTimeoutDefault bounds one bucket scan: a million records read in a
// few seconds, so this leaves room, and stays under the server's write
// timeout.
const scanTimeoutDefault = 15 * time.Second
