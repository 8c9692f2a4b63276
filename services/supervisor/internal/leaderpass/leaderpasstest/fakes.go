// Package leaderpasstest holds the fakes the leader's passes are tested
// with, in place of the index of jobs and the ack tracker: unit tests
// only, no production file imports it.
package leaderpasstest

import (
	"cyberimage/services/supervisor/internal/acks"
	"cyberimage/services/supervisor/internal/index"
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
