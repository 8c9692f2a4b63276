package natsauth

import (
	"fmt"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// MinJetStreamDisk is the least disk an account bound may give the
// pipeline: its streams reserve what their own bounds say (the request
// stream 1 GiB), and the records and work need room beside them.
const MinJetStreamDisk = 2 << 30

func jetStreamLimits(disk, memory int64) jwt.JetStreamLimits {
	return jwt.JetStreamLimits{DiskStorage: disk, MemoryStorage: memory, Streams: jwt.NoLimit, Consumer: jwt.NoLimit}
}

// SetJetStreamLimits bounds the storage of the pipeline's account: once
// reached, the server refuses new messages (requests are not stored,
// writes fail and are retried) rather than fill its disk. It must not
// exceed what each server may store (max_file_store), or the server leaves
// JetStream off for the account. The account's JWT
// is signed again; Push or a server restart applies it.
func (a *Authority) SetJetStreamLimits(disk, memory int64) error {
	if disk < MinJetStreamDisk || memory < 0 {
		return fmt.Errorf("JetStream limits: disk at least %d bytes and memory not negative (got %d, %d)", MinJetStreamDisk, disk, memory)
	}
	op, err := nkeys.FromSeed([]byte(a.OperatorSeed))
	if err != nil {
		return fmt.Errorf("operator key: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	ac, err := jwt.DecodeAccountClaims(a.AccountJWT)
	if err != nil {
		return err
	}
	ac.Limits.JetStreamLimits = jetStreamLimits(disk, memory)
	token, err := ac.Encode(op)
	if err != nil {
		return err
	}
	a.AccountJWT = token
	return nil
}

// JetStreamLimits reads the account's storage bounds.
func (a *Authority) JetStreamLimits() (disk, memory int64, err error) {
	ac, err := jwt.DecodeAccountClaims(a.accountJWT())
	if err != nil {
		return 0, 0, err
	}
	return ac.Limits.DiskStorage, ac.Limits.MemoryStorage, nil
}
