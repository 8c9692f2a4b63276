package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/tracing"
)

// submitTimeout is how long POST /v1/jobs waits for ingest's answer. The
// request is in the stream by then, so a slow ingest only delays the
// answer: the client gets the job id to poll.
const submitTimeout = 10 * time.Second

// submitted is the answer to POST /v1/jobs: ingest's reply over NATS, with
// the request_id the job is known by.
type submitted struct {
	bus.RequestReply
	RequestID string `json:"request_id"`
}

// submit serves POST /v1/jobs: the body is a request as published on
// cyberimage.requests; it is published there with a request_id (the one
// given, or a new one), and ingest's answer comes back: 202 with the job
// id, or 4xx with the same error codes NATS requesters get.
func (s *Server) submit(w http.ResponseWriter, r *http.Request, from sender) {
	body, requestID, ok := s.readRequest(w, r)
	if !ok {
		return
	}
	reply, status := s.publishRequest(tracing.ExtractHTTP(r.Context(), r.Header), from, body, requestID)
	setRetryAfter(w, reply.Error)
	writeJSON(w, status, submitted{RequestReply: reply, RequestID: requestID})
}

// readRequest reads a JSON request body and makes sure it carries a
// request_id, so a client may resend it safely; false when it answered.
func (s *Server) readRequest(w http.ResponseWriter, r *http.Request) (body []byte, requestID string, ok bool) {
	if crossSite(r) {
		writeError(w, http.StatusForbidden, "cross-site requests may not submit jobs")
		return nil, "", false
	}
	// Only JSON: a browser form cannot send it to another site without a
	// preflight, which this API never grants.
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "send the request as Content-Type: application/json")
		return nil, "", false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, job.MaxRequestBytes+1))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) || len(body) > job.MaxRequestBytes {
		writeJSON(w, http.StatusRequestEntityTooLarge, submitted{RequestReply: rejection(job.CodeTooLarge, "", "request over 64 KiB")})
		return nil, "", false
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "reading the request: "+err.Error())
		return nil, "", false
	}
	fields := map[string]json.RawMessage{}
	if json.Unmarshal(body, &fields) != nil {
		// Not an object: ingest says why, in its own words and code.
		return body, "", true
	}
	if raw, ok := fields["request_id"]; ok {
		_ = json.Unmarshal(raw, &requestID) // a wrong type is ingest's to reject
		return body, requestID, true
	}
	requestID = newRequestID()
	fields["request_id"], _ = json.Marshal(requestID)
	body, _ = json.Marshal(fields)
	return body, requestID, true
}

// publishRequest sends a request to ingest over NATS, on the subject
// naming its sender, and maps the answer to an HTTP status.
func (s *Server) publishRequest(ctx context.Context, from sender, body []byte, requestID string) (bus.RequestReply, int) {
	ctx, cancel := context.WithTimeout(ctx, submitTimeout)
	defer cancel()
	if !s.room.fits(ctx, len(body)) {
		return bus.RequestReply{Error: &bus.RequestError{Code: job.CodeQueueFull,
			Message: "the request stream is full (ingest is behind or down): nothing was stored; send it again later"}}, http.StatusServiceUnavailable
	}
	// The job's trace starts here (or in the HTTP client's, when it sent a
	// traceparent) and travels to ingest in the request's headers.
	ctx, span := tracing.Tracer().Start(ctx, "supervisor.submit", trace.WithSpanKind(trace.SpanKindProducer))
	defer span.End()
	req := &nats.Msg{Subject: from.subject, Data: body, Header: nats.Header{}}
	tracing.Inject(ctx, req.Header)
	msg, err := bus.SubmitRequest(ctx, s.p.NC, req)
	if err != nil {
		s.log.Warn("submit: no answer from ingest", zap.String("request_id", requestID), zap.Error(err))
		reply := bus.RequestReply{Error: &bus.RequestError{Code: job.CodeIngestUnavailable,
			Message: "ingest did not answer in time; the request is stored and will be taken up: send it again with the same request_id, or poll the job"}}
		if requestID != "" {
			reply.JobID = job.IDForRequestID(requestID)
		}
		if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, context.DeadlineExceeded) {
			return reply, http.StatusServiceUnavailable
		}
		return reply, http.StatusBadGateway
	}
	reply, err := bus.DecodeRequestReply(msg.Data)
	if err != nil {
		return bus.RequestReply{Error: &bus.RequestError{Code: job.CodeBadAnswer, Message: "ingest's answer did not decode"}}, http.StatusBadGateway
	}
	switch {
	case reply.Error == nil:
		return reply, http.StatusAccepted
	case reply.Error.Code == job.CodeTooLarge:
		return reply, http.StatusRequestEntityTooLarge
	case reply.Error.Code == job.CodeMemoryBudgetExceeded:
		return reply, http.StatusUnprocessableEntity
	case retryable(reply.Error):
		// The sender's quota or rate at ingest: it may send again later.
		return reply, http.StatusTooManyRequests
	default:
		return reply, http.StatusBadRequest
	}
}

func rejection(code job.Code, field, message string) bus.RequestReply {
	return bus.RequestReply{Status: job.StatusRejected, Error: &bus.RequestError{Code: code, Field: field, Message: message}}
}

// newRequestID names a request sent without one: "http-" and 128 random
// bits.
func newRequestID() string {
	raw := make([]byte, 16)
	_, _ = rand.Read(raw)
	return "http-" + hex.EncodeToString(raw)
}
