package api

import (
	"fmt"
	"net/http"
	"strconv"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

// sender is who submits a request over HTTP, as ingest will know it: the
// subject the supervisor publishes the request on names it (the server
// lets only the supervisor publish there), and its quota is that
// client's.
type sender struct {
	// client is the identity ingest counts the request against
	// (bus.RequestClient of subject).
	client  string
	subject string
}

// senderOf is the sender a credential submits as: a client token as its
// client, on the client's own subject (the identity of its NATS creds);
// the submit and admin tokens on cyberimage.requests.http.<role>; a
// request without a token (from this host, when there is no submit
// token) on cyberimage.requests.http.local.
func senderOf(c credential) sender {
	if c.client {
		return sender{client: c.name, subject: bus.RequestSubject(c.name)}
	}
	token := c.name
	if c == anonymous {
		token = "local"
	}
	subject := bus.HTTPRequestSubject(token)
	return sender{client: bus.RequestClient(subject), subject: subject}
}

// submitter guards a submit route: no browser request made by another
// site (it would spend the bucket of whoever's browser it is), the submit
// token (or the admin token, or a client's; on a supervisor without a
// submit token, any client on this host may submit), then a token from
// that sender's bucket. legacy answers in the original app's shape.
func (s *Server) submitter(h func(http.ResponseWriter, *http.Request, sender), legacy bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if crossSite(r) {
			writeErrorCode(w, http.StatusForbidden, "forbidden", "cross-site requests may not submit jobs")
			return
		}
		who, ok := s.authorize(w, r, grantSubmit, false)
		if !ok {
			return
		}
		from := senderOf(who)
		if ok, wait := s.submits.take(from.client); !ok {
			msg := fmt.Sprintf("too many submissions: at most %d a minute per token; retry in %d s", s.submits.perMinute, retrySeconds(wait))
			refusal := rejection(job.CodeRateLimited, "", msg)
			refusal.Error.RetryAfterS = retrySeconds(wait)
			writeRefusal(w, http.StatusTooManyRequests, refusal, legacy)
			return
		}
		h(w, r, from)
	}
}

// writeRefusal answers a refused submission in the shape of its route:
// the pipeline's (ingest's reply) or, legacy, the original app's {status:
// "error", message, code}. A refusal with a retry hint (quota_exceeded,
// rate_limited: from this server's rate or from ingest's quotas) also
// sets Retry-After, in whole seconds, at least one.
func writeRefusal(w http.ResponseWriter, status int, reply bus.RequestReply, legacy bool) {
	e := reply.Error
	setRetryAfter(w, e)
	if !legacy {
		writeJSON(w, status, reply)
		return
	}
	body := map[string]any{"status": "error", "message": e.Message, "code": e.Code, "job_id": reply.JobID}
	if e.RetryAfterS > 0 {
		body["retry_after_s"] = e.RetryAfterS
	}
	writeJSON(w, status, body)
}

// retryable tells a refusal that says when to try again.
func retryable(e *bus.RequestError) bool { return e != nil && e.Code.RetryLater() }

// setRetryAfter sets Retry-After on a retryable refusal, from its hint.
func setRetryAfter(w http.ResponseWriter, e *bus.RequestError) {
	if retryable(e) {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, e.RetryAfterS)))
	}
}
