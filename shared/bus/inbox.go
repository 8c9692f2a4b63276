package bus

import (
	"fmt"
	"strings"
)

// Every identity on the bus (a role and a name: "client"/"default",
// "runner"/"gpu-7", "supervisor"/"supervisor") has an inbox namespace of
// its own, _INBOX.<role>.<name>, and may subscribe to nothing under anyone
// else's. Replies, pull deliveries and KV watches of one identity are then
// invisible to every other: the shared _INBOX.> namespace let any client
// read runners' deliveries and the supervisor's record feed.
const inboxRoot = "_INBOX."

// InboxPrefix is the inbox prefix of an identity, as nats.go's
// CustomInboxPrefix and the nats CLI's --inbox-prefix take it.
func InboxPrefix(role, name string) string { return inboxRoot + role + "." + name }

// InboxSubjects is what an identity may subscribe to for its replies.
func InboxSubjects(role, name string) string { return InboxPrefix(role, name) + ".>" }

// Where ingest may answer a request: a client identity's inbox, or the
// supervisor's inbox for requests it submitted over HTTP (SubmitInbox).
// Nothing else, so a request whose reply subject names a record, a lease,
// a work subject or another service's inbox makes ingest write nowhere it
// points (the confused deputy). The server enforces the same list
// (natsauth gives ingest exactly these publish rights).
const (
	clientRole       = "client"
	supervisorRole   = "supervisor"
	submitInboxToken = "submit"
)

// AnswerSubjects are the subject patterns ingest may answer on.
func AnswerSubjects() []string {
	return []string{inboxRoot + clientRole + ".>", inboxRoot + supervisorRole + ".*." + submitInboxToken + ".>"}
}

// SubmitInbox is the reply subject of one request the supervisor submits
// over HTTP: under its own prefix, in the one part of it ingest may answer.
func SubmitInbox(supervisorPrefix, id string) string {
	return supervisorPrefix + "." + submitInboxToken + "." + id
}

// CheckAnswerSubject says whether ingest may answer on subject: it must be
// a full subject (no wildcards, no empty tokens) matching AnswerSubjects.
func CheckAnswerSubject(subject string) error {
	tok := strings.Split(subject, ".")
	for _, t := range tok {
		if t == "" || strings.ContainsAny(t, "*> \t\r\n") {
			return fmt.Errorf("reply subject %q is not a plain subject", subject)
		}
	}
	switch {
	case len(tok) >= 4 && tok[0] == "_INBOX" && tok[1] == clientRole:
		return nil
	case len(tok) >= 5 && tok[0] == "_INBOX" && tok[1] == supervisorRole && tok[3] == submitInboxToken:
		return nil
	}
	return fmt.Errorf("reply subject %q is not a client's inbox (%s<name>.…)", subject, inboxRoot+clientRole+".")
}
