package main

import (
	"errors"
	"fmt"
	"os"

	"cyberimage/shared/bus"
	"cyberimage/shared/natsauth"
)

// errRetryLater marks a request refused for its client's quota or rate
// (exit 3): the same request is admitted once the client's queued jobs or
// recent requests have gone down, which the refusal's retry hint estimates.
var errRetryLater = errors.New("refused for now")

// requestSubject is where submit publishes: the subject names the client
// a request is counted against, and the NATS server lets a client's
// credentials publish only on its own subject and the bare one. So it is
// the --client given, else the client the credentials were issued to
// (their user JWT's name, natsauth's identity name); the default client,
// credentials without an identity and other roles' use the bare subject,
// the shared "default" pool.
func requestSubject(o submitOptions) (string, error) {
	name := o.client
	if name == "" {
		name = credsClient(o.creds)
	}
	if name == "" || name == bus.DefaultClient {
		return bus.SubjectRequests, nil
	}
	if err := natsauth.CheckName(name); err != nil {
		return "", fmt.Errorf("%w: --client: %v", errUsage, err)
	}
	return bus.RequestSubject(name), nil
}

// credsClient is the client identity a credentials file names, or "" when
// there is none to read: no file (a server without auth), a file without
// an identity, or another role's. An unreadable file is left for the
// connection to report.
func credsClient(creds string) string {
	if _, err := os.Stat(creds); err != nil {
		return ""
	}
	id, ok, err := bus.IdentityOf(creds)
	if err != nil || !ok || id.Role != string(natsauth.Client) {
		return ""
	}
	return id.Name
}

// refusal is the error for ingest's refusal of a request sent on subject:
// a quota's with its retry hint (errRetryLater), any other as rejected.
func refusal(subject string, e *bus.RequestError) error {
	if e.Code.RetryLater() {
		hint := "retry later"
		if e.RetryAfterS > 0 {
			hint = fmt.Sprintf("retry after %ds", e.RetryAfterS)
		}
		return fmt.Errorf("%w: %s (client %s, %s): %s", errRetryLater, e.Code, bus.RequestClient(subject), hint, e.Message)
	}
	field := ""
	if e.Field != "" {
		field = " (" + e.Field + ")"
	}
	return fmt.Errorf("%w: %s%s: %s", errRejected, e.Code, field, e.Message)
}
