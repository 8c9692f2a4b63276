package bus

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Connect opens a connection that never gives up: it retries the first
// connect and reconnects forever, since services may start before the
// server and must ride out its restarts.
//
// Every disconnect, reconnect and asynchronous error (a permission the
// server refused, a slow consumer dropping messages) is logged: those are
// the events an operator needs when something silently stops flowing.
func Connect(c Conn, name string, log *zap.Logger) (*nats.Conn, jetstream.JetStream, error) {
	if log == nil {
		log = zap.NewNop()
	}
	log = log.Named("nats")
	opts := []nats.Option{nats.Name(name), nats.MaxReconnects(-1),
		// A hung server (a frozen host: no TCP reset) is left after at
		// most two ping intervals; nats.go's default (2 minutes, 2
		// outstanding) kept a client on a dead node for up to 6 minutes.
		nats.PingInterval(c.pingInterval()), nats.MaxPingsOutstanding(1),
		nats.RetryOnFailedConnect(true), nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("disconnected from NATS; reconnecting", zap.Error(err))
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("reconnected to NATS", zap.String("server", nc.ConnectedUrlRedacted()))
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			if errors.Is(err, nats.ErrSlowConsumer) {
				slowConsumers.Add(1)
			}
			log.Error("NATS error", zap.String("subscription", subject), zap.Error(err))
		})}
	if c.CredsFile != "" {
		creds, err := CredentialOptions(c.CredsFile)
		if err != nil {
			return nil, nil, err
		}
		opts = append(opts, creds...)
	}
	if c.TLSCA != "" {
		opts = append(opts, nats.RootCAs(c.TLSCA))
	}
	if c.TLSCert != "" {
		opts = append(opts, nats.ClientCert(c.TLSCert, c.TLSKey))
	}
	url := c.URL
	if url == "" {
		url = DefaultURL
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect %s: %w", c.Redacted(), err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return nc, js, nil
}

var slowConsumers atomic.Uint64

// SlowConsumerErrors counts the slow-consumer errors of this process's
// connections: each means the client library dropped messages.
func SlowConsumerErrors() uint64 { return slowConsumers.Load() }

// CredentialOptions connects with a credentials file as its identity:
// replies, pulls and watches under the identity's own inbox prefix, the
// only one its credentials may subscribe to.
func CredentialOptions(credsFile string) ([]nats.Option, error) {
	opts := []nats.Option{nats.UserCredentials(credsFile)}
	id, ok, err := IdentityOf(credsFile)
	if err != nil {
		return nil, err
	}
	if ok {
		opts = append(opts, nats.CustomInboxPrefix(id.InboxPrefix()))
	}
	return opts, nil
}
