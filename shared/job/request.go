package job

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// MaxRequestBytes bounds a request payload; larger ones are rejected before
// any JSON parsing so a huge message cannot cost ingest memory or time.
const MaxRequestBytes = 64 << 10

// Request is the JSON users publish on the requests subject. Pointer fields
// distinguish "absent" (take the default) from an explicit zero, which
// validation must see to reject it.
type Request struct {
	Prompt         string   `json:"prompt"`
	NegativePrompt string   `json:"negative_prompt,omitempty"`
	Model          string   `json:"model,omitempty"`
	Width          *int     `json:"width,omitempty"`
	Height         *int     `json:"height,omitempty"`
	Steps          *int     `json:"steps,omitempty"`
	Guidance       *float64 `json:"guidance,omitempty"`
	Seed           *int64   `json:"seed,omitempty"`
	NumImages      *int     `json:"num_images,omitempty"`
	RequestID      string   `json:"request_id,omitempty"`
	// Priority is the job's class in its model's queue: high, normal (the
	// default) or low.
	Priority Priority `json:"priority,omitempty"`
	// Deadline (RFC 3339) or ExpiresIn (seconds after the request), at
	// most one: a job not started by then is cancelled, never run.
	Deadline  string `json:"deadline,omitempty"`
	ExpiresIn *int   `json:"expires_in,omitempty"`
	// CallbackURL is POSTed the job's record when it ends; only hosts the
	// operator allows (CallbackHosts).
	CallbackURL string `json:"callback_url,omitempty"`
}

// DecodeRequest parses a payload strictly: one JSON object, no unknown
// fields, no trailing data, every field of its documented type.
func DecodeRequest(payload []byte) (Request, error) {
	var req Request
	if len(payload) > MaxRequestBytes {
		return req, reject(CodeTooLarge, "", "request is %d bytes; the limit is %d", len(payload), MaxRequestBytes)
	}
	trimmed := bytes.TrimSpace(payload)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return req, reject(CodeInvalidJSON, "", "request must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return Request{}, decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Request{}, reject(CodeInvalidJSON, "", "unexpected data after the JSON object")
	}
	return req, nil
}

// EncodeRequest is a request as published on the requests subject (the
// supervisor's compatibility API builds one from the original app's). Its
// fields are strings, integers and a number that came from JSON, so
// encoding cannot fail.
func EncodeRequest(req Request) []byte {
	b, _ := json.Marshal(req)
	return b
}

// decodeError maps encoding/json's errors onto stable rejection codes.
func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return reject(CodeWrongType, typeErr.Field, "field %q must be %s, not %s", typeErr.Field, kindName(typeErr.Type.Kind().String()), typeErr.Value)
	}
	// encoding/json reports unknown fields only as text.
	if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
		field := strings.Trim(strings.TrimPrefix(msg, "json: unknown field "), `"`)
		return reject(CodeUnknownField, field, "unknown field %q", field)
	}
	return reject(CodeInvalidJSON, "", "invalid JSON: %v", err)
}

func kindName(kind string) string {
	switch kind {
	case "int", "int64":
		return "an integer"
	case "float64":
		return "a number"
	case "string":
		return "a string"
	}
	return fmt.Sprintf("of type %s", kind)
}
