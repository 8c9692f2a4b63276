package api

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"cyberimage/services/supervisor/internal/drain"
	"cyberimage/services/supervisor/internal/tracker"
	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/statusapi"
)

// An operator's maintenance: a model's queue paused and resumed (its
// jobs wait in the stream; the pause is the consumers' own state on the
// server, bus.PauseModel), a runner drained and undrained (it takes no
// new work, finishes what it holds and stays up; drain.Drains).

// Drains drains and undrains runners, and says which are drained.
type Drains interface {
	Drained(ctx context.Context) (map[string]drain.Entry, error)
	Drain(ctx context.Context, runner string) error
	Undrain(ctx context.Context, runner string) error
}

// pauseModel serves POST /v1/models/{model}/pause (pause) and
// /v1/models/{model}/resume.
func (s *Server) pauseModel(pause bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		model, ok := pathName(w, r, "model")
		if !ok {
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		var err error
		if pause {
			err = bus.PauseModel(ctx, s.p.JS, model, time.Now())
		} else {
			err = bus.ResumeModel(ctx, s.p.JS, model)
		}
		// fmt.Sprint, not err.Error(): the message is built before
		// writeFailure knows err is not nil.
		if writeFailure(w, err, refusal{jetstream.ErrConsumerNotFound, http.StatusNotFound, "no queue for model " + model + ": " + fmt.Sprint(err)}) {
			return
		}
		s.log.Info("model queue changed by an operator", zap.String("model", model), zap.Bool("paused", pause))
		writeJSON(w, http.StatusOK, statusapi.Model{Name: model, Paused: pause})
	}
}

// drainRunner serves POST /v1/runners/{runner}/drain (drain) and
// /v1/runners/{runner}/undrain: it records the operator's choice (kept in
// KV) and orders the runner; the leader repeats the order until the
// runner's heartbeat shows it. Only a runner heard from may be drained (a
// typo drains nothing); any may be undrained.
func (s *Server) drainRunner(drain bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		runner, ok := pathName(w, r, "runner")
		if !ok {
			return
		}
		if s.p.Drains == nil {
			writeError(w, http.StatusNotImplemented, "drains are off")
			return
		}
		if drain && !s.heardOf(runner) {
			writeError(w, http.StatusNotFound, "no runner "+runner+" heard from")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		change := s.p.Drains.Undrain
		if drain {
			change = s.p.Drains.Drain
		}
		if err := change(ctx, runner); err != nil {
			writeError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		s.log.Info("runner drain changed by an operator", zap.String("runner", runner), zap.Bool("draining", drain))
		writeJSON(w, http.StatusAccepted, map[string]any{"runner": runner, "draining": drain})
	}
}

// pathName is the path's value named key, a runner's or a model's name,
// which must be a NATS subject token; an invalid one is answered 400.
func pathName(w http.ResponseWriter, r *http.Request, key string) (string, bool) {
	name := r.PathValue(key)
	if !bus.ValidToken(name) {
		writeError(w, http.StatusBadRequest, "invalid "+key+" name")
		return "", false
	}
	return name, true
}

// heardOf reports whether runner was heard from lately, alive or lost.
func (s *Server) heardOf(runner string) bool {
	for _, r := range s.p.Tracker.Runners() {
		if r.Runner == runner {
			return true
		}
	}
	return false
}

// modelStates is each model known (configured, announced by a runner, or
// with a queue) and whether its queue is paused, from the consumers.
func (s *Server) modelStates(q queueState) []statusapi.Model {
	names := queuedModels(q.consumers)
	if s.p.Catalog != nil {
		for _, n := range s.p.Catalog.Names() {
			names[n] = true
		}
	}
	for _, r := range s.p.Tracker.Runners() {
		for _, n := range r.Models {
			names[n] = true
		}
	}
	out := make([]statusapi.Model, 0, len(names))
	for n := range names {
		m := statusapi.Model{Name: n}
		for _, c := range bus.ModelConsumers(n) {
			m.Paused = m.Paused || q.consumers[c]
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// queuedModels are the models the runners' consumers are for: every
// model has a normal-class consumer, gpu-runners-<model>; one that is
// another model's class consumer (gpu-runners-<model>-high) is not a
// model of its own.
func queuedModels(consumers map[string]bool) map[string]bool {
	out := map[string]bool{}
	for name := range consumers {
		model, ok := strings.CutPrefix(name, bus.ConsumerRunners+"-")
		if ok && model != "" && !classConsumer(name, consumers) {
			out[model] = true
		}
	}
	return out
}

// classConsumer reports whether name is the high or low class consumer of
// a model whose normal consumer is among consumers.
func classConsumer(name string, consumers map[string]bool) bool {
	for _, p := range job.Priorities() {
		if p == job.PriorityNormal {
			continue
		}
		base, ok := strings.CutPrefix(strings.TrimSuffix(name, "-"+string(p)), bus.ConsumerRunners+"-")
		if _, normal := consumers[bus.RunnerConsumer(base)]; ok && normal && bus.ClassConsumer(base, p) == name {
			return true
		}
	}
	return false
}

// drainedRunners are the drained runners; nil when unknown (no Drains, or
// KV did not answer).
func (s *Server) drainedRunners(ctx context.Context) map[string]drain.Entry {
	if s.p.Drains == nil {
		return nil
	}
	drained, err := s.p.Drains.Drained(ctx)
	if err != nil {
		s.log.Warn("read drained runners", zap.Error(err))
		return nil
	}
	return drained
}

// withDrains adds the operator's drains to the runners.
func withDrains(runners []tracker.Runner, drained map[string]drain.Entry) []statusapi.Runner {
	out := make([]statusapi.Runner, 0, len(runners))
	for _, r := range runners {
		_, d := drained[r.Runner]
		out = append(out, statusapi.Runner{Heartbeat: r.Heartbeat, Health: r.Health, Draining: d, DrainPending: r.Health != "lost" && r.Heartbeat.Draining != d})
	}
	return out
}
