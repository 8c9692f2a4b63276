package index

import (
	"container/heap"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
)

// Filter narrows a listing; empty fields match everything.
type Filter struct {
	Status job.Status
	Model  string
	// Text matches prompts containing it, ignoring case.
	Text string
	// CreatedBefore, when set, matches jobs created before it.
	CreatedBefore time.Time
	// Client matches the jobs of one client (bus.RecordClient: "default"
	// matches records that name none).
	Client string
}

func (f Filter) match(e Entry) bool {
	return (f.Status == "" || e.Status == f.Status) && (f.Model == "" || e.Model == f.Model) &&
		(f.Client == "" || bus.RecordClient(e.Client) == f.Client) &&
		(f.Text == "" || strings.Contains(strings.ToLower(e.Prompt), strings.ToLower(f.Text))) &&
		(f.CreatedBefore.IsZero() || e.CreatedAt.Before(f.CreatedBefore))
}

// Cursor marks where a page ended: the creation time and id of its last
// job. Both never change, so a job is on exactly one page however many
// jobs arrive or change status while a client pages.
type Cursor struct {
	CreatedAt time.Time
	JobID     string
}

// before orders jobs newest first (ties by id, descending): it tells
// whether e comes after the cursor.
func (c Cursor) before(e Entry) bool {
	if !e.CreatedAt.Equal(c.CreatedAt) {
		return e.CreatedAt.Before(c.CreatedAt)
	}
	return e.JobID < c.JobID
}

// String is the cursor as clients pass it back: opaque, URL-safe.
func (c Cursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.CreatedAt.UnixNano(), 10) + ":" + c.JobID))
}

// ErrCursor: a cursor this index did not hand out.
var ErrCursor = errors.New("invalid cursor")

// ParseCursor reads a cursor from String; "" is the first page.
func ParseCursor(s string) (*Cursor, error) {
	if s == "" {
		return nil, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, ErrCursor
	}
	nanos, id, ok := strings.Cut(string(raw), ":")
	n, err := strconv.ParseInt(nanos, 10, 64)
	if !ok || err != nil || id == "" {
		return nil, ErrCursor
	}
	return &Cursor{CreatedAt: time.Unix(0, n).UTC(), JobID: id}, nil
}

// List returns up to limit jobs matching f, newest first, after the cursor
// (nil: from the newest), and the cursor of the next page (nil when this
// was the last). Pages within the window of newest jobs are answered from
// memory; a page that reaches past the window scans the bucket for the
// older jobs (O(records) time, O(limit) memory), as do searches that do
// not fill a page from the window, unless they ask for queued or
// processing jobs, which are all in flight.
func (x *Index) List(ctx context.Context, f Filter, after *Cursor, limit int) ([]Entry, *Cursor, error) {
	if limit <= 0 {
		return nil, nil, nil
	}
	// The heap keeps the limit+1 newest matches; its root is the oldest of
	// them. One more than a page tells whether another page follows.
	h := &oldestFirst{}
	offer := func(e Entry) {
		if !f.match(e) || (after != nil && !after.before(e)) {
			return
		}
		if h.Len() < limit+1 {
			heap.Push(h, e)
		} else if newer(e, (*h)[0]) {
			(*h)[0] = e
			heap.Fix(h, 0)
		}
	}
	x.mu.RLock()
	for _, e := range x.st.window.entries {
		offer(e)
	}
	floor := x.st.window.floor
	if h.Len() <= limit && floor != nil && f.Status != "" && !f.Status.Terminal() {
		// Every queued or processing job is in flight: no need to read
		// the bucket for the ones older than the window.
		for _, e := range x.st.inflight {
			if floor.before(e) {
				offer(e)
			}
		}
		floor = nil
	}
	x.mu.RUnlock()
	if h.Len() <= limit && floor != nil {
		err := x.scan(ctx, func(e Entry) {
			if floor.before(e) { // the window has the rest
				offer(e)
			}
		})
		if err != nil {
			return nil, nil, err
		}
	}
	page := make([]Entry, h.Len())
	for i := len(page) - 1; i >= 0; i-- {
		page[i] = heap.Pop(h).(Entry)
	}
	if len(page) <= limit {
		return page, nil, nil
	}
	page = page[:limit]
	last := page[limit-1]
	return page, &Cursor{CreatedAt: last.CreatedAt, JobID: last.JobID}, nil
}

// scan reads every record in the bucket.
func (x *Index) scan(ctx context.Context, each func(Entry)) error {
	w, err := x.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("read job records: %w", err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("read job records: the watch ended")
			}
			if e == nil {
				return nil
			}
			rec, err := jobstore.Decode(e.Value())
			if err != nil {
				continue
			}
			rec.JobID = e.Key()
			each(entryOf(rec, e.Created()))
		}
	}
}

// newer: a comes before b when listing newest first.
func newer(a, b Entry) bool { return positionOf(a).before(b) }

// oldestFirst is a min-heap by (CreatedAt, JobID).
type oldestFirst []Entry

func (h oldestFirst) Len() int           { return len(h) }
func (h oldestFirst) Less(i, j int) bool { return newer(h[j], h[i]) }
func (h oldestFirst) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *oldestFirst) Push(v any)        { *h = append(*h, v.(Entry)) }
func (h *oldestFirst) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// String describes a filter in logs.
func (f Filter) String() string {
	return fmt.Sprintf("status=%q model=%q text=%q client=%q", f.Status, f.Model, f.Text, f.Client)
}
