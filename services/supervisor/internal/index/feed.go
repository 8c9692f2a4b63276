package index

import (
	"sync"

	"cyberimage/shared/job"
)

// Ended is a record the index saw end, at the revision that ended it.
type Ended struct {
	Revision uint64
	Record   job.Record
}

// Archivable tells whether a record stored under key is an ended job's
// own record: a body naming another job is counted under its key, but
// never copied out as that job's record.
func Archivable(key string, rec job.Record) bool {
	return rec.Status.Terminal() && rec.JobID == key
}

// Feed hands the records the index sees end to one follower (the
// archive), so the bucket's stream is read and decoded once for both. It
// holds at most limit records: a follower that falls that far behind (S3
// down for long) is told it lost the feed and catches up from the bucket
// itself, so the index never waits for it and never grows without bound.
type Feed struct {
	limit  int
	after  uint64 // records that ended at or before this revision are not wanted
	signal chan struct{}

	mu    sync.Mutex
	items []Ended
	// covered: every record that ended at a revision up to covered is in
	// items or was taken before.
	covered uint64
	lost    bool
}

// FollowEnded starts a feed of the records that end after the index's
// current revision, which it returns: the follower reads anything it
// needs up to that revision from the bucket. Records that ended at or
// before revision after are left out (the follower has them), so an index
// still catching up with old revisions does not fill the feed.
func (x *Index) FollowEnded(limit int, after uint64) (*Feed, uint64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	f := &Feed{limit: max(limit, 1), after: after, signal: make(chan struct{}, 1), covered: x.st.revision}
	x.feeds = append(x.feeds, f)
	return f, x.st.revision
}

// Unfollow ends a feed.
func (x *Index) Unfollow(f *Feed) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for i, g := range x.feeds {
		if g == f {
			x.feeds = append(x.feeds[:i], x.feeds[i+1:]...)
			return
		}
	}
}

// Signal is ready when records arrived (or the feed was lost) since the
// last Take.
func (f *Feed) Signal() <-chan struct{} { return f.signal }

// Take returns the records that ended since the last Take, in revision
// order, and the revision up to which the feed is complete. lost means
// records were dropped: the follower must read the bucket from where it
// is and follow anew.
func (f *Feed) Take() (items []Ended, covered uint64, lost bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	items, f.items = f.items, nil
	return items, f.covered, f.lost
}

// advance tells the feed the index applied rev; ended is the record that
// ended at it, if hasEnded. Called with the index locked, in revision
// order.
func (f *Feed) advance(rev uint64, ended job.Record, hasEnded bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lost {
		return
	}
	f.covered = max(f.covered, rev)
	if !hasEnded || rev <= f.after {
		return
	}
	if len(f.items) >= f.limit {
		f.lose()
		return
	}
	f.items = append(f.items, Ended{Revision: rev, Record: ended})
	f.notify()
}

// loseFeed marks the feed lost (the view started over, or the follower
// fell behind).
func (f *Feed) loseFeed() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lose()
}

func (f *Feed) lose() {
	f.lost, f.items = true, nil
	f.notify()
}

func (f *Feed) notify() {
	select {
	case f.signal <- struct{}{}:
	default:
	}
}
