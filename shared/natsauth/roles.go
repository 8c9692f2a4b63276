// Package natsauth is the pipeline's NATS security model: the roles, what
// each may publish and subscribe (derived from the names in shared/bus, so
// they cannot drift from the code), and an authority that issues
// credentials files (user JWT + nkey seed) for them and configures a
// server to trust it (operator mode, with a system account, which
// JetStream needs).
package natsauth

import (
	"fmt"
	"sort"
	"time"

	"cyberimage/shared/bus"
)

// Role is a kind of NATS user.
type Role string

// The roles. Each service connects as its own; people and their tools
// connect as client (submit and watch) or admin (everything: provisioning,
// inspection, repairs).
const (
	Client     Role = "client"
	Ingest     Role = "ingest"
	Runner     Role = "runner"
	Supervisor Role = "supervisor"
	Admin      Role = "admin"
)

// Roles lists every role.
func Roles() []Role { return []Role{Client, Ingest, Runner, Supervisor, Admin} }

// Allow is what a role may publish and subscribe to; everything else the
// server refuses. Replies, when set, lets the role answer the messages it
// received on their own reply subjects (as many times as it likes, for
// that long), and no other reply subject: how a runner acks only its own
// deliveries, never another runner's.
type Allow struct {
	Pub     []string      `json:"pub"`
	Sub     []string      `json:"sub"`
	Replies time.Duration `json:"replies_for,omitempty"`
}

// The JetStream API subjects the roles use, by operation. Creating,
// changing and deleting streams and consumers is not among them: only
// admin (which may do anything) provisions.
const (
	jsInfo        = "$JS.API.STREAM.INFO.>"
	jsConsumerGet = "$JS.API.CONSUMER.INFO.>"
)

func next(stream, consumer string) string {
	return "$JS.API.CONSUMER.MSG.NEXT." + stream + "." + consumer
}
func acks(stream, consumer string) string { return "$JS.ACK." + stream + "." + consumer + ".>" }
func kvWrite(bucket string) string        { return "$KV." + bucket + ".>" }
func kvRead(bucket string) []string {
	return []string{"$JS.API.DIRECT.GET.KV_" + bucket + ".>", "$JS.API.STREAM.MSG.GET.KV_" + bucket}
}

// kvWatch lets a role watch a bucket: an ordered consumer of its own on
// the bucket's stream, made and removed by the client library, and the
// flow-control replies the server asks of it once it falls behind
// (without them the server stops sending and the watch stalls for good).
func kvWatch(bucket string) []string {
	return []string{"$JS.API.CONSUMER.CREATE.KV_" + bucket + ".>", "$JS.API.CONSUMER.DELETE.KV_" + bucket + ".>",
		"$JS.FC.KV_" + bucket + ".>"}
}

// MaxJobTime bounds how long after a delivery a runner may still ack it:
// its right to answer a delivery's reply subject lasts this long.
const MaxJobTime = 6 * time.Hour

// DefaultName is the name of a role's identity when it has one per role
// (ingest, supervisor, admin) or none given (the first client).
func DefaultName(r Role) string {
	if r == Client {
		return "default"
	}
	return string(r)
}

// CheckName says whether name can name an identity: it becomes a subject
// token (inbox prefix, heartbeat and control subjects) and a file name.
func CheckName(name string) error {
	if len(name) == 0 || len(name) > 64 {
		return fmt.Errorf("identity name %q: 1 to 64 characters", name)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("identity name %q: only letters, digits, - and _", name)
		}
	}
	return nil
}

// Permissions is the allow list of a role's identity named name: as narrow
// as its real traffic. Every identity subscribes only to its own inbox
// prefix (bus.InboxPrefix): nobody reads another's replies, pull
// deliveries or watches.
func Permissions(r Role, name string) Allow {
	var a Allow
	inbox := bus.InboxSubjects(string(r), name)
	switch r {
	case Client:
		a = clientAllow(name)
	case Ingest:
		a = ingestAllow()
	case Runner:
		a = runnerAllow(name)
	case Supervisor:
		a = supervisorAllow()
	case Admin:
		return Allow{Pub: []string{">"}, Sub: []string{">"}}
	default:
		return a
	}
	a.Sub = append([]string{inbox}, a.Sub...)
	sort.Strings(a.Pub)
	sort.Strings(a.Sub)
	return a
}

// clientAllow: submit, hear the answer and follow progress. Nothing else:
// no orders, no records, no JetStream API. A client submits on its own
// subject (bus.RequestSubject), which names it to ingest for its quotas,
// or on the bare subject, whose requests count against the shared
// "default" client.
func clientAllow(name string) Allow {
	return Allow{
		Pub: []string{bus.SubjectRequests, bus.RequestSubject(name)},
		Sub: []string{bus.SubjectEventsAll},
	}
}

// ingestAllow answers only to clients' inboxes (and the supervisor's HTTP
// submissions), never to whatever reply subject a request names: no
// response permission, which would let a requester point ingest's rights
// at a record, a lease or the work subjects.
func ingestAllow() Allow {
	pub := []string{jsInfo, jsConsumerGet, next(bus.StreamRequests, bus.ConsumerIngest),
		acks(bus.StreamRequests, bus.ConsumerIngest),
		bus.SubjectJobsAll, kvWrite(bus.BucketJobs), "$JS.API.STREAM.MSG.GET." + bus.StreamJobs}
	pub = append(pub, bus.AnswerSubjects()...)
	pub = append(pub, kvRead(bus.BucketJobs)...)
	// Quotas count each client's queued jobs from the job records:
	// ingest watches the bucket as the supervisor does.
	pub = append(pub, kvWatch(bus.BucketJobs)...)
	return Allow{Pub: pub, Sub: []string{bus.SubjectRequests, bus.SubjectRequestsAll}}
}

// runnerAllow pulls work of any model, writes records and events, and
// speaks only for itself.
func runnerAllow(name string) Allow {
	pub := []string{jsInfo, jsConsumerGet,
		// Any consumer of the jobs stream: only the runners' consumers
		// exist there, one per model and priority class
		// (bus.ClassConsumer).
		next(bus.StreamJobs, "*"),
		kvWrite(bus.BucketJobs), bus.SubjectEventsAll,
		// Its own heartbeat only: a runner cannot speak for another.
		bus.HeartbeatSubject(name)}
	pub = append(pub, kvRead(bus.BucketJobs)...)
	return Allow{
		Pub: pub,
		Sub: []string{bus.ControlSubject(name)},
		// Acks only on its own deliveries' reply subjects, for as long as
		// a job may run. Only the server (pull deliveries, into its
		// private inbox) and the supervisor (its orders) send it messages
		// with reply subjects.
		Replies: MaxJobTime,
	}
}

// supervisorAllow is the only role that may NAK or terminate others'
// deliveries and give orders to runners.
func supervisorAllow() Allow {
	pub := []string{jsInfo, jsConsumerGet,
		acks(bus.StreamJobs, "*"), "cyberimage.control.>",
		// Work queued again: lost work (reconciler), operator re-queues.
		bus.SubjectJobsAll,
		next(bus.StreamAdvisories, bus.ConsumerSupervisor), acks(bus.StreamAdvisories, bus.ConsumerSupervisor),
		"$JS.API.STREAM.MSG.GET." + bus.StreamJobs, "$JS.API.STREAM.MSG.DELETE." + bus.StreamJobs,
		bus.SubjectDLQAll, "$JS.API.STREAM.MSG.GET." + bus.StreamDLQ,
		// The console's dead-letters page: a letter re-queued or removed
		// by an operator is deleted.
		"$JS.API.STREAM.MSG.DELETE." + bus.StreamDLQ,
		// Requests submitted over HTTP (POST /v1/jobs), on the subject
		// naming the token that sent them (its quota), answered by ingest
		// on the supervisor's submit inbox (bus.SubmitInbox).
		bus.SubjectHTTPRequests,
		// A client's own HTTP token submits as that client (the same
		// identity, and quota, as its NATS creds): the supervisor
		// publishes those on the client's subject. One token deep, so
		// never on the bare subject nor anything else under it.
		bus.RequestSubject("*"),
		// Queue depth for /status and /metrics: read-only listings.
		"$JS.API.CONSUMER.LIST." + bus.StreamJobs, "$JS.API.CONSUMER.NAMES." + bus.StreamJobs,
		// An operator pauses and resumes a model's queue (its runners'
		// consumers); no other change to a consumer.
		"$JS.API.CONSUMER.PAUSE." + bus.StreamJobs + ".*"}
	for _, b := range []string{bus.BucketJobs, bus.BucketLeases, bus.BucketRunners, bus.BucketSupervisor, bus.BucketWebhooks} {
		pub = append(pub, kvWrite(b))
		pub = append(pub, kvRead(b)...)
		pub = append(pub, kvWatch(b)...)
	}
	return Allow{Pub: pub, Sub: []string{bus.SubjectAcks, bus.SubjectHeartbeatsAll, bus.SubjectEventsAll}}
}
