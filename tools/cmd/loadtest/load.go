package main

import (
	"context"
	"time"
)

// load publishes --jobs requests at once, as `nats pub` would, and judges
// the batch: all completed, exactly once, with their images, queue drained,
// counted by the supervisor.
func (h *harness) load(ctx context.Context) {
	const stage = "load"
	b := h.newBatch(ctx, stage)
	reqs := make([]request, h.opts.jobs)
	for i := range reqs {
		reqs[i] = ordinaryRequest(h.run, stage, i)
		h.add(b, reqs[i])
	}
	for _, r := range reqs {
		if err := h.publish(r); err != nil {
			h.rep.check(stage+": published", false, "%v", err)
			return
		}
	}
	if err := h.nc.FlushTimeout(10 * time.Second); err != nil {
		h.rep.check(stage+": published", false, "flush: %v", err)
		return
	}
	h.rep.progress(stage, "published %d requests (request_id %s-%s-0..%d)", len(reqs), h.run, stage, len(reqs)-1)

	waitCtx, cancel := context.WithTimeout(ctx, h.opts.timeout)
	defer cancel()
	h.wait(waitCtx, b)
	h.judge(ctx, b)
}
