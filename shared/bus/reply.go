package bus

import "cyberimage/shared/job"

// RequestReply is ingest's answer to a request published with a reply
// subject (`nats req`, the supervisor's POST /v1/jobs): the job it made or
// found, or why the request was rejected.
type RequestReply struct {
	JobID     string        `json:"job_id,omitempty"`
	Status    job.Status    `json:"status,omitempty"`
	Duplicate bool          `json:"duplicate,omitempty"`
	Error     *RequestError `json:"error,omitempty"`
}

// RequestError is a rejection: the stable code, the field at fault, and a
// message for people.
type RequestError struct {
	Code    job.Code `json:"code"`
	Field   string   `json:"field,omitempty"`
	Message string   `json:"message"`
	// RetryAfterS, on quota_exceeded and rate_limited, is how many
	// seconds to wait before sending the request again.
	RetryAfterS int `json:"retry_after_s,omitempty"`
}

// EncodeRequestReply is the JSON of ingest's answer.
func EncodeRequestReply(r RequestReply) []byte { return encode(r) }

// DecodeRequestReply reads ingest's answer to a request: it names the
// job, or says why there is none.
func DecodeRequestReply(data []byte) (RequestReply, error) {
	return decode(data, MaxMessageBytes, func(r *RequestReply) error {
		if r.JobID == "" && r.Error == nil {
			return malformed("answer names neither a job nor an error")
		}
		return nil
	})
}
