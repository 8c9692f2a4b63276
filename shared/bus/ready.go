package bus

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrNotReady marks an error NATS ends by itself: no server answered yet,
// JetStream is still starting, or the cluster has not yet elected its meta
// leader or heard from enough peers to place a replicated stream. Ensure
// wraps such errors with it; Provision retries them and nothing else.
var ErrNotReady = errors.New("NATS not ready yet")

// notReadyCodes are the JetStream API errors of a server or cluster still
// forming. nats.go names none of them but JetStream-not-enabled.
var notReadyCodes = map[jetstream.ErrorCode]bool{
	// "no suitable peers for placement, peer offline": the meta leader has
	// not heard from enough peers for the replicas asked, as on a cluster
	// whose nodes are still joining (the error of the CI run that started
	// this), or for a moment after a route to a peer connected again (the
	// leader forgets the peer's statistics until its next report). On a
	// cluster that truly has too few nodes it never heals, so Provision's
	// deadline, not this table, ends that wait.
	10005: true,
	// "JetStream system temporarily unavailable": no meta leader yet.
	10008: true,
	// "JetStream cluster can not handle request": the leader changed.
	10009: true,
	// "insufficient resources": peers known, their storage not yet.
	10023: true,
	// "JetStream not enabled for account" and "JetStream not enabled":
	// answered by a server whose JetStream is still starting.
	jetstream.JSErrCodeJetStreamNotEnabledForAccount: true,
	jetstream.JSErrCodeJetStreamNotEnabled:           true,
	// "peer remap failed" and "cluster member change is in progress".
	10075: true,
	10202: true,
}

// notReadyErrs are the client-side errors of a request nothing answered yet.
// ErrStreamNameAlreadyInUse is a create that raced an earlier attempt's,
// whose answer timed out: the next attempt updates instead.
var notReadyErrs = []error{
	context.DeadlineExceeded, nats.ErrTimeout, nats.ErrNoResponders,
	nats.ErrConnectionReconnecting, nats.ErrDisconnected, nats.ErrNoServers,
	jetstream.ErrStreamNameAlreadyInUse,
}

// classify wraps err with ErrNotReady when it is one NATS ends by itself.
func classify(err error) error {
	if err == nil || errors.Is(err, ErrNotReady) {
		return err
	}
	for _, target := range notReadyErrs {
		if errors.Is(err, target) {
			return fmt.Errorf("%w: %w", ErrNotReady, err)
		}
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && notReadyCodes[apiErr.ErrorCode] {
		return fmt.Errorf("%w: %w", ErrNotReady, err)
	}
	return err
}
