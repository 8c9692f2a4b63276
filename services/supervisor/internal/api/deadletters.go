package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
)

// deadLetter is one message of the dead-letter stream as listed.
type deadLetter struct {
	// Seq is its sequence in the dead-letter stream (the list's cursor).
	Seq        uint64    `json:"seq"`
	JobID      string    `json:"job_id"`
	Model      string    `json:"model"`
	Reason     string    `json:"reason"`
	Deliveries uint64    `json:"deliveries"`
	At         time.Time `json:"at"`
	Prompt     string    `json:"prompt,omitempty"`
	// Status is the job's record now ("" when the record is gone): only
	// a failed job can be re-queued.
	Status job.Status `json:"status,omitempty"`
	// Malformed says why the message did not decode (it can still be
	// deleted by its job id when it names one).
	Malformed string `json:"malformed,omitempty"`
}

type deadLetterList struct {
	DeadLetters []deadLetter `json:"dead_letters"`
	// Total is the number of messages in the stream.
	Total      uint64 `json:"total"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// deadLetterProbes bounds the sequences one page looks at, so a stream
// with many deleted messages cannot make a page read it all: a short page
// with a cursor comes back instead.
const deadLetterProbes = 1000

// deadLetters serves GET /v1/dead-letters?limit=&cursor=: the dead-letter
// stream newest first.
func (s *Server) deadLetters(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, ok := pageSize(w, r)
	if !ok {
		return
	}
	var before uint64
	if v := q.Get("cursor"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n == 0 {
			writeError(w, http.StatusBadRequest, "invalid cursor: pass back a next_cursor as given")
			return
		}
		before = n
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	stream, err := s.p.JS.Stream(ctx, bus.StreamDLQ)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "dead-letter stream: "+err.Error())
		return
	}
	state := stream.CachedInfo().State // Stream just fetched it
	out := deadLetterList{DeadLetters: []deadLetter{}, Total: state.Msgs}
	seq := state.LastSeq
	if before != 0 {
		seq = min(seq, before-1)
	}
	for probes := 0; seq >= max(state.FirstSeq, 1) && len(out.DeadLetters) < limit; seq-- {
		if probes++; probes > deadLetterProbes {
			break
		}
		msg, err := stream.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // deleted: re-queued or removed
		}
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("dead letter %d: %v", seq, err))
			return
		}
		out.DeadLetters = append(out.DeadLetters, s.describeDeadLetter(ctx, msg))
	}
	if seq >= max(state.FirstSeq, 1) && seq > 0 {
		out.NextCursor = strconv.FormatUint(seq+1, 10)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) describeDeadLetter(ctx context.Context, msg *jetstream.RawStreamMsg) deadLetter {
	d, err := bus.DecodeDeadLetter(msg.Subject, msg.Header, msg.Data)
	item := deadLetter{Seq: msg.Sequence, JobID: d.JobID, Model: d.Model, Reason: d.Reason, Deliveries: d.Deliveries, At: msg.Time.UTC()}
	if err != nil {
		item.Malformed = err.Error()
		return item
	}
	if work, err := bus.DecodeWork(d.Work); err == nil {
		item.Prompt = work.Spec.Prompt
	}
	if rec, _, err := s.p.Store.Get(ctx, d.JobID); err == nil {
		item.Status = rec.Status
	}
	return item
}

// lettersOf finds the sequences of a job's dead letters (one per work
// message that ran out: a job re-queued and failed again has several).
func lettersOf(ctx context.Context, stream jetstream.Stream, id string) ([]uint64, error) {
	// Any model: the job id is the subject's last token.
	subject := bus.DLQSubject("*", id)
	var seqs []uint64
	for seq := uint64(1); ; {
		msg, err := stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return seqs, nil
		}
		if err != nil {
			return nil, err
		}
		seqs = append(seqs, msg.Sequence)
		seq = msg.Sequence + 1
	}
}

// findLetters finds a job's dead letters, answering the client itself
// (and returning false) when the id is invalid, there are none, or the
// stream cannot be read.
func (s *Server) findLetters(ctx context.Context, w http.ResponseWriter, id string) (jetstream.Stream, []uint64, bool) {
	if !bus.ValidToken(id) {
		writeError(w, http.StatusBadRequest, "invalid job id")
		return nil, nil, false
	}
	stream, err := s.p.JS.Stream(ctx, bus.StreamDLQ)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "dead-letter stream: "+err.Error())
		return nil, nil, false
	}
	seqs, err := lettersOf(ctx, stream, id)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "finding the dead letters of "+id+": "+err.Error())
		return nil, nil, false
	}
	if len(seqs) == 0 {
		writeError(w, http.StatusNotFound, "no dead letter of job "+id)
		return nil, nil, false
	}
	return stream, seqs, true
}

// deleteLetters deletes dead letters by sequence; n is how many went.
func deleteLetters(ctx context.Context, stream jetstream.Stream, seqs []uint64) (n int, err error) {
	for _, seq := range seqs {
		if err := stream.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return n, fmt.Errorf("delete dead letter %d: %w", seq, err)
		}
		n++
	}
	return n, nil
}

// letterAction is an action on the dead letters of the job in the path.
type letterAction func(ctx context.Context, w http.ResponseWriter, id string, stream jetstream.Stream, seqs []uint64)

// onLetters serves an action on the job's dead letters, found first (400,
// 404 or 503 when they cannot be).
func (s *Server) onLetters(act letterAction) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("job_id")
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		if stream, seqs, ok := s.findLetters(ctx, w, id); ok {
			act(ctx, w, id, stream, seqs)
		}
	}
}

// requeueDeadLetter serves POST /v1/dead-letters/{job_id}/requeue: the job
// is re-queued as POST /v1/jobs/{id}/retry does (it must be failed), then
// its dead letters are deleted.
func (s *Server) requeueDeadLetter(ctx context.Context, w http.ResponseWriter, id string, stream jetstream.Stream, seqs []uint64) {
	rec, err := s.requeue(ctx, id, "operator re-queue of a dead letter")
	if writeFailure(w, err,
		refusal{jobstore.ErrNotFound, http.StatusConflict, "the record of job " + id + " is gone (retention): it cannot run again; delete the dead letter"},
		refusal{job.ErrNotFailed, http.StatusConflict,
			"job " + id + " is " + string(rec.Status) + "; only failed jobs can be re-queued (delete the dead letter if it is done with)"}) {
		return
	}
	n, err := deleteLetters(ctx, stream, seqs)
	body := map[string]any{"job_id": id, "status": rec.Status, "requeues": rec.Requeues, "deleted": n}
	if err != nil {
		// The job runs again all the same; its letter stays listed, with
		// the record's status saying it was re-queued.
		s.log.Warn("dead letter of a re-queued job not deleted", zap.String("job_id", id), zap.Error(err))
		body["warning"] = "re-queued, but its dead letter could not be deleted: " + err.Error()
	}
	writeJSON(w, http.StatusAccepted, body)
}

// deleteDeadLetter serves DELETE /v1/dead-letters/{job_id}: the job's dead
// letters go; its record is left as it is.
func (s *Server) deleteDeadLetter(ctx context.Context, w http.ResponseWriter, id string, stream jetstream.Stream, seqs []uint64) {
	n, err := deleteLetters(ctx, stream, seqs)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	s.log.Info("dead letters deleted by an operator", zap.String("job_id", id), zap.Int("deleted", n))
	writeJSON(w, http.StatusOK, map[string]any{"job_id": id, "deleted": n})
}
