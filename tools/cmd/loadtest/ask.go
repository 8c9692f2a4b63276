package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"cyberimage/shared/bus"
)

// askTimeout bounds one request-reply to ingest.
const askTimeout = 5 * time.Second

// ingestReply is ingest's answer to a request sent with a reply subject.
type ingestReply struct {
	JobID     string `json:"job_id"`
	Status    string `json:"status"`
	Duplicate bool   `json:"duplicate"`
	Error     *struct {
		Code    string `json:"code"`
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"error"`
}

// code is the rejection code, or "" when the request was accepted.
func (r ingestReply) code() string {
	if r.Error == nil {
		return ""
	}
	return r.Error.Code
}

func (r ingestReply) String() string {
	if r.Error != nil {
		return fmt.Sprintf("%s %s (%s)", r.Status, r.Error.Code, r.Error.Message)
	}
	if r.Duplicate {
		return fmt.Sprintf("%s %s duplicate", r.JobID, r.Status)
	}
	return fmt.Sprintf("%s %s", r.JobID, r.Status)
}

// ask sends a request as `nats req` would and decodes ingest's answer.
func (h *harness) ask(ctx context.Context, payload []byte) (ingestReply, error) {
	ctx, cancel := context.WithTimeout(ctx, askTimeout)
	defer cancel()
	msg, err := h.nc.RequestWithContext(ctx, bus.SubjectRequests, payload)
	if err != nil {
		return ingestReply{}, fmt.Errorf("no reply from ingest: %w", err)
	}
	var r ingestReply
	if err := json.Unmarshal(msg.Data, &r); err != nil {
		return r, fmt.Errorf("reply %q: %w", msg.Data, err)
	}
	return r, nil
}
