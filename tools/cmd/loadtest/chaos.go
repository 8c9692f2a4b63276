package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"cyberimage/shared/job"
)

// maxDuplicates bounds the jobs whose request_id chaos sends again.
const maxDuplicates = 5

// invalidRequests are sent by request-reply while jobs run; each must be
// answered with its documented code and disturb nothing.
var invalidRequests = []struct {
	payload string
	code    job.Code
}{
	{`not json`, job.CodeInvalidJSON},
	{`{"prompt":"   "}`, job.CodePromptRequired},
	{`{"prompt":"bad width","width":100}`, job.CodeWidthNotMultipleOf8},
	{`{"prompt":"too many","num_images":9}`, job.CodeNumImagesOutOfRange},
	{`{"prompt":"unknown field","colour":"red"}`, job.CodeUnknownField},
	{`{"prompt":"wrong type","steps":"ten"}`, job.CodeWrongType},
	{`{"prompt":"no model","model":"no-such-model"}`, job.CodeUnknownModel},
	{`{"prompt":"zero steps","steps":0}`, job.CodeStepsOutOfRange},
	{`{"prompt":"bad key","request_id":"bad\u0001key"}`, job.CodeRequestIDInvalid},
	{`{"prompt":"` + strings.Repeat("x", job.MaxRequestBytes) + `"}`, job.CodeTooLarge},
}

// chaos is load with disturbances while the jobs run: invalid requests,
// request_ids sent again (same body, changed body, invalid body), and a
// rejected request corrected under its request_id. Nothing may be lost or
// doubled. It cannot kill processes of a stack it did not start.
func (h *harness) chaos(ctx context.Context) {
	const stage = "chaos"
	b := h.newBatch(ctx, stage)
	n := h.opts.jobs
	reqs := make([]request, n)
	for i := range reqs {
		reqs[i] = ordinaryRequest(h.run, stage, i)
		h.add(b, reqs[i])
	}
	firstHalf := (n + 1) / 2
	if !h.publishAll(stage, reqs[:firstHalf]) {
		return
	}
	h.rep.progress(stage, "published %d of %d requests; disturbing while they run", firstHalf, n)

	h.sendInvalid(ctx, stage)
	targets := h.sendDuplicates(ctx, stage, reqs[:firstHalf])
	h.sendCorrected(ctx, stage, b)

	if !h.publishAll(stage, reqs[firstHalf:]) {
		return
	}
	h.rep.progress(stage, "published the other %d requests", n-firstHalf)

	waitCtx, cancel := context.WithTimeout(ctx, h.opts.timeout)
	defer cancel()
	h.wait(waitCtx, b)
	h.judge(ctx, b)
	h.checkUntouched(stage, b, targets)
}

func (h *harness) publishAll(stage string, reqs []request) bool {
	for _, r := range reqs {
		if err := h.publish(r); err != nil {
			h.rep.check(stage+": published", false, "%v", err)
			return false
		}
	}
	if err := h.nc.FlushTimeout(10 * time.Second); err != nil {
		h.rep.check(stage+": published", false, "flush: %v", err)
		return false
	}
	return true
}

// sendInvalid sends every invalid request and checks each answer's code.
func (h *harness) sendInvalid(ctx context.Context, stage string) {
	var bad []string
	for _, c := range invalidRequests {
		r, err := h.ask(ctx, []byte(c.payload))
		if err != nil {
			// Without ingest every further request would wait as long.
			bad = append(bad, fmt.Sprintf("%s: %v", c.code, err))
			break
		}
		if r.Status != string(job.StatusRejected) || r.code() != string(c.code) {
			bad = append(bad, fmt.Sprintf("want %s, got %s", c.code, r))
		}
	}
	h.rep.check(stage+": invalid requests rejected", len(bad) == 0, "%d/%d answered rejected with their code%s",
		len(invalidRequests)-len(bad), len(invalidRequests), sample(bad))
}

// sendDuplicates sends the request_ids of a few recorded jobs again: the
// same body by request-reply (answered as a duplicate), a changed body by
// plain publish and an invalid body by request-reply (rejected, the job
// untouched). It returns the requests whose ids were reused.
func (h *harness) sendDuplicates(ctx context.Context, stage string, published []request) []request {
	d := min(max(1, len(published)/4), maxDuplicates, len(published))
	targets := published[:d]
	var bad []string
	for _, r := range targets {
		// A duplicate must meet an existing record, or it is the original.
		ok, _ := eventually(ctx, 10*time.Second, func(context.Context) (bool, string) {
			_, seen := h.ledger.get(r.jobID())
			return seen, ""
		})
		if !ok {
			// Ingest is not keeping up or not there; the rest would wait too.
			bad = append(bad, r.jobID()+" was not recorded within 10s")
			break
		}
		// Ingest pairs a `nats req` inbox with an answer by payload bytes,
		// so a byte-identical repeat within a minute of the plain publish
		// would be handed the original's stored answer ("queued"). The same
		// request in other bytes is what a retrying client sends anyway.
		rep, err := h.ask(ctx, append([]byte(" "), r.payload()...))
		switch {
		case err != nil:
			bad = append(bad, err.Error())
		case !rep.Duplicate || rep.JobID != r.jobID():
			bad = append(bad, fmt.Sprintf("same body again: want %s duplicate, got %s", r.jobID(), rep))
		}
		changed := r
		changed.Width, changed.NumImages = 256, 4
		if err := h.publish(changed); err != nil {
			bad = append(bad, err.Error())
		}
		invalid := fmt.Sprintf(`{"prompt":"x","width":100,"request_id":%q}`, r.RequestID)
		rep, err = h.ask(ctx, []byte(invalid))
		switch {
		case err != nil:
			bad = append(bad, err.Error())
		case rep.code() != string(job.CodeWidthNotMultipleOf8):
			bad = append(bad, fmt.Sprintf("invalid body under a live request_id: want rejected %s, got %s", job.CodeWidthNotMultipleOf8, rep))
		}
	}
	h.rep.check(stage+": duplicates answered", len(bad) == 0, "request_id of %d job(s) sent again 3 ways each%s", len(targets), sample(bad))
	return targets
}

// sendCorrected sends an invalid request under a fresh request_id, then the
// corrected one under the same id: the contract lets a client fix a
// rejected request. The corrected job joins the batch.
func (h *harness) sendCorrected(ctx context.Context, stage string, b *batch) {
	fixed := ordinaryRequest(h.run, stage, 0)
	fixed.RequestID = h.run + "-" + stage + "-corrected"
	id := fixed.jobID()
	h.add(b, fixed)
	broken := fmt.Sprintf(`{"prompt":%q,"width":100,"request_id":%q}`, fixed.Prompt, fixed.RequestID)
	first, err := h.ask(ctx, []byte(broken))
	if err != nil || first.code() != string(job.CodeWidthNotMultipleOf8) || first.JobID != id {
		h.rep.check(stage+": corrected request queued", false, "invalid first version: want rejected %s under %s, got %s (%v)",
			job.CodeWidthNotMultipleOf8, id, first, err)
		return
	}
	second, err := h.ask(ctx, fixed.payload())
	if err != nil || second.Status != string(job.StatusQueued) || second.JobID != id || second.Duplicate {
		h.rep.check(stage+": corrected request queued", false, "corrected version: want %s queued, got %s (%v)", id, second, err)
		return
	}
	// Until the ledger sees the queued write, the rejected record would
	// count as ended.
	ok, _ := eventually(ctx, 10*time.Second, func(context.Context) (bool, string) {
		hist, _ := h.ledger.get(id)
		return hist.last.Status != job.StatusRejected, ""
	})
	h.rep.check(stage+": corrected request queued", ok, "%s rejected, then queued under the same request_id", id)
}

// checkUntouched checks the duplicates changed no job and made none: each
// reused request_id's record keeps its first body, and the run holds
// exactly the batch's jobs.
func (h *harness) checkUntouched(stage string, b *batch, targets []request) {
	var bad []string
	for _, r := range targets {
		hist, ok := h.ledger.get(r.jobID())
		if !ok {
			continue // reported as lost already
		}
		if s := hist.last.Spec; s.Width != r.Width || s.NumImages != r.NumImages {
			bad = append(bad, fmt.Sprintf("%s now %dx%d with %d images, want %dx%d with %d", r.jobID(), s.Width, s.Height, s.NumImages, r.Width, r.Height, r.NumImages))
		}
	}
	ids := h.ledger.withPrefix(h.run + "-" + stage + "-")
	for _, id := range ids {
		if _, ours := b.want[id]; !ours {
			bad = append(bad, "unexpected job "+id)
		}
	}
	h.rep.check(stage+": duplicates changed nothing", len(bad) == 0, "%d records for %d request_ids, reused ones keep their first body%s", len(ids), len(b.order), sample(bad))
}
