package intake

import (
	"context"
	"errors"
	"time"

	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
)

// Quotas counts each client's jobs against its limits (tally.Tally).
// Without it (Params.Quotas nil) nothing is limited.
type Quotas interface {
	// Reserve counts the job id of client before its record is written,
	// or refuses it (a *tally.Refusal); release takes the count back.
	Reserve(client, id string, createdAt time.Time) (release func(), refused error)
	// CaughtUp is closed once the counts include every job that existed
	// at start: no request is taken before.
	CaughtUp() <-chan struct{}
}

// reserve counts rec against its client's quotas. A refused request whose
// job already exists (and is not a rejection) goes on as before, to be
// answered as a duplicate or re-queued, never refused: the tally may not
// yet have seen a job another ingest created a moment ago, and a client
// resending a request it already sent must learn its job id. mayExist
// says whether a record under rec's id can exist at all: not for a first
// delivery without a request_id, whose id comes from its stream position
// (nobody else has it), so its refusal skips the read.
func (pr *Processor) reserve(ctx context.Context, rec job.Record, mayExist bool) (release func(), err error) {
	noop := func() {}
	if pr.p.Quotas == nil {
		return noop, nil
	}
	release, refused := pr.p.Quotas.Reserve(rec.Client, rec.JobID, rec.CreatedAt)
	if refused == nil {
		return release, nil
	}
	if !mayExist {
		return noop, refused
	}
	cur, _, err := pr.p.Store.Get(ctx, rec.JobID)
	switch {
	case err == nil && cur.Status != job.StatusRejected:
		return noop, nil
	case err == nil || errors.Is(err, jobstore.ErrNotFound):
		return noop, refused
	default:
		return noop, err
	}
}

// waitForQuotas holds the intake back until the quota counts have caught
// up; it reports false when ctx ended first. Requests wait in the stream.
func (pr *Processor) waitForQuotas(ctx context.Context) bool {
	if pr.p.Quotas == nil {
		return true
	}
	select {
	case <-pr.p.Quotas.CaughtUp():
		return true
	case <-ctx.Done():
		return false
	}
}
