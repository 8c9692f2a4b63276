package api

import (
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"

	"cyberimage/shared/bus"
	"cyberimage/shared/httpserve"
)

// eventKeepAlive is how often an idle stream gets a comment line, so
// proxies do not close it.
const eventKeepAlive = 15 * time.Second

// subscribeFlushTimeout bounds the wait for NATS to confirm an event
// stream's subscription.
const subscribeFlushTimeout = 5 * time.Second

// events serves GET /v1/events[?job_id=]: the jobs' progress events as
// server-sent events (event "progress", data the event's JSON), live, for
// one job or all; no polling. Junk on the subject is dropped, as
// everywhere. It is a read: with a read token configured it needs the
// token, as a bearer or as the console's cookie. Streams are capped per
// client and in all (streamCaps): over either, 429.
//
// The supervisor hears events only here, the streams through
// subscriptions they share (eventHub), each open while a stream wants it:
// the subject of one job, or every job's only while an all-jobs stream is
// open; junk is dropped and counted there, once, not per stream. Nothing
// else follows them (the tracker reads progress from heartbeats), so a
// supervisor nobody watches receives none of a fleet's per-step events.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, grantRead, true); !ok {
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "streaming unsupported")
		return
	}
	subject := bus.SubjectEventsAll
	if id := r.URL.Query().Get("job_id"); id != "" {
		if !bus.ValidToken(id) {
			writeError(w, http.StatusBadRequest, "invalid job_id")
			return
		}
		subject = bus.EventSubject(id)
	}
	release, refused := s.streams.take(clientOf(r))
	if refused != "" {
		w.Header().Set("Retry-After", "5")
		writeErrorCode(w, http.StatusTooManyRequests, "too_many_streams", refused)
		return
	}
	defer release()
	evs, leave, err := s.hub.join(subject)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	defer leave()
	// The stream opens only once the server has the subscription: a client
	// that opens it and then submits (or a test that then publishes) must
	// not lose the first events to a subscription still on its way.
	if err := s.p.NC.FlushTimeout(subscribeFlushTimeout); err != nil {
		writeError(w, http.StatusServiceUnavailable, "the event subscription was not confirmed by NATS: "+err.Error())
		return
	}
	// The server's write timeout is for answers that end; this one does
	// not, and ends with the client, or when the server stops.
	if err := httpserve.Unbounded(w); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": cyberimage progress events\n\n")
	flusher.Flush()
	keepAlive := time.NewTicker(eventKeepAlive)
	defer keepAlive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.http.Stopping():
			return
		case <-keepAlive.C:
			fmt.Fprint(w, ": keep-alive\n\n")
			flusher.Flush()
		case ev := <-evs:
			if _, err := fmt.Fprintf(w, "event: progress\ndata: %s\n\n", bus.EncodeProgressEvent(ev)); err != nil {
				s.log.Debug("event stream closed", zap.Error(err))
				return
			}
			flusher.Flush()
		}
	}
}
