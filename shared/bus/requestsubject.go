package bus

import "strings"

// Who sent a request is told by the subject it was published on, which
// the server checks against the sender's rights (natsauth): a named
// client may publish only on its own subject, so the name cannot be
// forged by the payload or a header.
const (
	// DefaultClient is the identity of requests on the bare subject: the
	// default client's, and any publisher's that predates per-client
	// subjects.
	DefaultClient = "default"
	// httpClientPrefix marks identities of submissions over HTTP: the
	// supervisor publishes them on cyberimage.requests.http.<token name>.
	// A client's name holds no ':', so "http:<name>" is never a client's.
	httpClientPrefix = "http:"
	httpSubjectToken = "http"
)

// RequestSubject is where the client named name publishes requests:
// cyberimage.requests.<name>. The default client may also use the bare
// cyberimage.requests.
func RequestSubject(name string) string { return SubjectRequests + "." + name }

// HTTPRequestSubject is where the supervisor publishes a request
// submitted over HTTP with the token named token ("submit", "admin",
// "local", or a client token's name).
func HTTPRequestSubject(token string) string {
	return SubjectRequests + "." + httpSubjectToken + "." + token
}

// SubjectHTTPRequests matches every HTTP submission's subject.
const SubjectHTTPRequests = SubjectRequests + "." + httpSubjectToken + ".*"

// RecordClient is the client a job record is counted against: records
// from before per-client subjects name none, and came on the bare
// subject, which is the default client's.
func RecordClient(client string) string {
	if client == "" {
		return DefaultClient
	}
	return client
}

// RequestClient is the identity a request published on subject is
// counted against: "default" for the bare subject, the name for
// cyberimage.requests.<name>, "http:<token>" for an HTTP submission.
// Anything else (a subject the stream does not capture) is "".
func RequestClient(subject string) string {
	if subject == SubjectRequests {
		return DefaultClient
	}
	rest, ok := strings.CutPrefix(subject, SubjectRequests+".")
	if !ok || rest == "" {
		return ""
	}
	if token, ok := strings.CutPrefix(rest, httpSubjectToken+"."); ok && token != "" && !strings.Contains(token, ".") {
		return httpClientPrefix + token
	}
	if strings.Contains(rest, ".") {
		return ""
	}
	return rest
}
