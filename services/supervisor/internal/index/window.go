package index

import (
	"slices"
)

// DefaultWindow is how many of the newest jobs the index keeps for lists:
// the console's pages and searches over them need no bucket read.
const DefaultWindow = 10000

// window holds the newest jobs by creation (up to a size), whatever their
// status, for listing. Every job at or above floor is in it; older ones
// are found by scanning the bucket. Memory is bounded by the size, not by
// how many jobs ever ran.
type window struct {
	size    int
	entries map[string]Entry
	// floor is the oldest position the window still covers; nil while it
	// has never dropped a job, that is while it holds every record.
	floor *Cursor
}

func newWindow(size int) window { return window{size: size, entries: map[string]Entry{}} }

func positionOf(e Entry) Cursor { return Cursor{CreatedAt: e.CreatedAt, JobID: e.JobID} }

// covers tells whether a job's position is inside the window.
func (w *window) covers(e Entry) bool {
	return w.floor == nil || !w.floor.before(e)
}

// put keeps e's latest state if it is inside the window, dropping the
// oldest jobs once the window overflows by an eighth (so the sort that
// finds them runs once per size/8 jobs, not once per job).
func (w *window) put(e Entry) {
	if !w.covers(e) {
		return
	}
	e.Delivery = nil // not listed; the in-flight view has it
	w.entries[e.JobID] = e
	if len(w.entries) <= w.size+w.size/8 {
		return
	}
	all := make([]Entry, 0, len(w.entries))
	for _, e := range w.entries {
		all = append(all, e)
	}
	slices.SortFunc(all, func(a, b Entry) int {
		switch {
		case newer(a, b):
			return -1
		case newer(b, a):
			return 1
		}
		return 0
	})
	for _, old := range all[w.size:] {
		delete(w.entries, old.JobID)
	}
	floor := positionOf(all[w.size-1])
	w.floor = &floor
}

func (w *window) remove(id string) { delete(w.entries, id) }

func (w *window) get(id string) (Entry, bool) {
	e, ok := w.entries[id]
	return e, ok
}
