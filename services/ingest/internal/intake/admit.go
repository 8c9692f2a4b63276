package intake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"cyberimage/services/ingest/internal/tally"
	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/tracing"
)

// answer is what a requester using `nats req` gets back.
type answer = bus.RequestReply

// admit validates a request of client and makes it a queued job. Only a
// failure to reach NATS is returned as an error; a bad request, or one
// over the client's quotas, is an answer.
func (pr *Processor) admit(ctx context.Context, client string, payload []byte, meta *jetstream.MsgMetadata) (answer, error) {
	req, err := job.DecodeRequest(payload)
	if err != nil {
		return pr.reject(ctx, client, payload, err, meta)
	}
	id := job.NewID(meta.Timestamp, fmt.Sprintf("%s:%d", meta.Stream, meta.Sequence.Stream))
	if req.RequestID != "" {
		id = job.IDForRequestID(req.RequestID)
	}
	// The request's stream time, not this process's clock, is what
	// expires_in counts from: a redelivery gets the same deadline.
	spec, err := job.NormalizeAllowing(req, pr.p.Models, func() int64 { return job.SeedFromID(id) }, meta.Timestamp, pr.p.Callbacks)
	if err != nil {
		return pr.reject(ctx, client, payload, err, meta)
	}
	rec := job.NewQueued(id, spec, meta.Timestamp.UTC(), tracing.Traceparent(ctx))
	rec.Client = client
	// Only a request_id, or an earlier delivery of this message, can have
	// made a record under id already.
	release, err := pr.reserve(ctx, rec, req.RequestID != "" || meta.NumDelivered > 1)
	var refused *tally.Refusal
	switch {
	case errors.As(err, &refused):
		return pr.reject(ctx, client, payload, refused, meta)
	case err != nil:
		return answer{}, err
	}
	rev, dup, err := pr.create(ctx, rec, meta.NumDelivered > 1)
	if err != nil || dup != nil {
		// Nothing was queued by this request: its count is taken back.
		release()
	}
	if err != nil {
		return answer{}, err
	}
	if dup != nil {
		return *dup, nil
	}
	// Only a record written just now is known to be at rev; the runner
	// falls back to reading it otherwise.
	if err := pr.queue(ctx, bus.Work{JobID: id, Spec: spec, CreatedAt: rec.CreatedAt, Revision: rev, Traceparent: rec.Traceparent, Client: rec.Client}); err != nil {
		return answer{}, err
	}
	pr.p.Stats.Accepted.Add(1)
	pr.log.Info("job queued", append(tracing.LogFields(ctx), zap.String("job_id", id), zap.String("client", client), zap.String("model", spec.Model),
		zap.Int("width", spec.Width), zap.Int("height", spec.Height), zap.Int("num_images", spec.NumImages),
		zap.String("priority", string(spec.Priority)))...)
	return answer{JobID: id, Status: job.StatusQueued}, nil
}

// create writes the record of a new job. A record already under its id is
// claimExisting's: a rejection the job replaces, or a duplicate request
// (dup, its answer).
func (pr *Processor) create(ctx context.Context, rec job.Record, redelivered bool) (rev uint64, dup *answer, err error) {
	rev, err = pr.p.Store.Create(ctx, rec)
	if !errors.Is(err, jobstore.ErrExists) {
		return rev, nil, err
	}
	existing, requeue, err := pr.claimExisting(ctx, rec, redelivered)
	if err != nil || requeue {
		return 0, nil, err
	}
	pr.p.Stats.Duplicates.Add(1)
	pr.log.Info("duplicate request", zap.String("job_id", rec.JobID), zap.String("client", rec.Client), zap.String("status", string(existing.Status)))
	return 0, &answer{JobID: rec.JobID, Status: existing.Status, Duplicate: true}, nil
}

// claimExisting handles a job id that already has a record. A rejected
// record is replaced by this valid request. A queued record seen again on a
// redelivery is queued again when its work message is missing: ingest may
// have died between writing the record and queueing the work. Anything
// else is a duplicate request.
func (pr *Processor) claimExisting(ctx context.Context, rec job.Record, redelivered bool) (job.Record, bool, error) {
	var requeue bool
	existing, err := pr.p.Store.Update(ctx, rec.JobID, func(cur *job.Record) error {
		requeue = cur.Status == job.StatusRejected || (cur.Status == job.StatusQueued && redelivered)
		return job.Readmit(cur, rec)
	})
	if err != nil && !errors.Is(err, job.ErrNotRejected) {
		return existing, false, err
	}
	if requeue && existing.Status == job.StatusQueued {
		// Past the stream's dedup window a second publish would be a
		// second work message for one job: queue again only when the
		// first never made it.
		queued, err := pr.workQueued(ctx, existing)
		if err != nil {
			return existing, false, err
		}
		requeue = !queued
	}
	return existing, requeue, nil
}

// workQueued reports whether the jobs stream holds a work message for the
// job (waiting, or held by a runner until its ack).
func (pr *Processor) workQueued(ctx context.Context, rec job.Record) (bool, error) {
	stream, err := pr.p.JS.Stream(ctx, bus.StreamJobs)
	if err != nil {
		return false, fmt.Errorf("look up work of %s: %w", rec.JobID, err)
	}
	_, err = stream.GetLastMsgForSubject(ctx, bus.WorkSubject(rec.Spec.Model, rec.Spec.Priority, rec.JobID))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return false, nil
	default:
		return false, fmt.Errorf("look up work of %s: %w", rec.JobID, err)
	}
}

func (pr *Processor) queue(ctx context.Context, w bus.Work) error {
	msg := bus.WorkMsg(w, bus.QueueMsgID(w.JobID))
	tracing.Inject(ctx, msg.Header) // the runner's spans join the job's trace
	if _, err := pr.p.JS.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("queue job %s: %w", w.JobID, err)
	}
	return nil
}

// reject answers a bad request, or one over its client's quotas, and
// records it: counted, logged with its reason, and stored as a rejected
// record when it names a usable request_id so the client can look it up
// (and a later valid request under it is admitted: Readmit).
func (pr *Processor) reject(ctx context.Context, client string, payload []byte, cause error, meta *jetstream.MsgMetadata) (answer, error) {
	verr, retryAfterS := rejection(cause)
	pr.p.Stats.reject(verr.Code)
	requestID := lenientRequestID(payload)
	pr.log.Info("request rejected", zap.String("code", string(verr.Code)), zap.String("field", verr.Field),
		zap.String("reason", verr.Message), zap.String("client", client), zap.String("request_id", requestID),
		zap.Uint64("stream_seq", meta.Sequence.Stream))
	ans := answer{Status: job.StatusRejected, Error: &bus.RequestError{Code: verr.Code, Field: verr.Field, Message: verr.Message,
		RetryAfterS: retryAfterS}}
	if !job.UsableRequestID(requestID) {
		return ans, nil
	}
	id := job.IDForRequestID(requestID)
	ans.JobID = id
	rec := job.NewRejected(id, requestID, job.Failure{Code: verr.Code, Message: verr.Message}, time.Now())
	rec.Client = client
	_, err := pr.p.Store.Create(ctx, rec)
	if errors.Is(err, jobstore.ErrExists) {
		// A real job under this request_id stays untouched; an earlier
		// rejection is replaced by this one.
		_, err = pr.p.Store.Update(ctx, id, func(cur *job.Record) error { return job.RejectAgain(cur, rec) })
		if errors.Is(err, job.ErrNotRejected) {
			err = nil
		}
	}
	if err != nil {
		return answer{}, err
	}
	return ans, nil
}

// rejection is the error code, field and message a refused request is
// answered with, and for a quota refusal its retry hint in seconds.
func rejection(cause error) (*job.ValidationError, int) {
	var refused *tally.Refusal
	if errors.As(cause, &refused) {
		return &job.ValidationError{Code: refused.Code, Message: refused.Error()}, refused.RetryAfterS()
	}
	var verr *job.ValidationError
	if !errors.As(cause, &verr) {
		verr = &job.ValidationError{Code: job.CodeInternal, Message: cause.Error()}
	}
	return verr, 0
}

// lenientRequestID digs the request_id out of a request that failed strict
// decoding, so even a malformed request can be recorded under its key.
func lenientRequestID(payload []byte) string {
	var probe struct {
		RequestID string `json:"request_id"`
	}
	if len(payload) > job.MaxRequestBytes || json.Unmarshal(payload, &probe) != nil {
		return ""
	}
	return probe.RequestID
}
