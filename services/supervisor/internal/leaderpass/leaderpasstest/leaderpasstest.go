// Package leaderpasstest holds what the leader's passes are tested with:
// fakes in place of the index of jobs and the ack tracker, a job store on
// an in-process server, a stopped clock. Tests only; no production file
// imports it.
package leaderpasstest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"cyberimage/services/supervisor/internal/acks"
	"cyberimage/services/supervisor/internal/index"
	"cyberimage/services/supervisor/internal/leaderpass"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/natsauth"
	"cyberimage/shared/testenv"
)

// Jobs is a fixed list of index entries: the jobs in flight for the
// reconciler and the expiry sweep (Unfinished), in processing for the
// watchdog (Processing).
type Jobs []index.Entry

// Unfinished returns the entries.
func (j Jobs) Unfinished() []index.Entry { return j }

// Processing returns the entries.
func (j Jobs) Processing() []index.Entry { return j }

// Acks is the last ack seen of each delivery, by token.
type Acks map[string]acks.Seen

// Last returns the last ack seen of a delivery.
func (a Acks) Last(token string) (acks.Seen, bool) { s, ok := a[token]; return s, ok }

// Store starts an in-process JetStream server with permissions,
// provisioned (as admin) for the model "demo", and opens its job store
// with the supervisor's credentials, as the passes that write records
// (the reconciler, the expiry sweep, the dead-letter handler) and the
// followers of ended jobs (follow's reads and checkpoints) run; a test
// standing in for another role connects to n as that role.
func Store(t testing.TB) (n *testenv.NATS, js jetstream.JetStream, store *jobstore.Store) {
	n = testenv.StartNATSWithAuth(t)
	n.Provisioned(t, "demo")
	_, js = n.ConnectAs(t, natsauth.Supervisor)
	store, err := jobstore.Open(context.Background(), js)
	require.NoError(t, err)
	return n, js, store
}

// At is a pass's clock stopped at now, with a logger writing to t.
func At(t testing.TB, now time.Time) leaderpass.Deps {
	return leaderpass.Deps{Now: func() time.Time { return now }, Logger: zaptest.NewLogger(t)}
}
