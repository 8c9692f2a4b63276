package bus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/backoff"
	"cyberimage/shared/lifecycle"
)

var (
	// ErrNotProvisioned: a stream, consumer or bucket a service needs does
	// not exist yet; the provision step (make run does it) creates them.
	ErrNotProvisioned = errors.New("not provisioned")
	// ErrSettingsDiffer: what exists was provisioned with other settings
	// than this service was started with. The service refuses to start
	// rather than rewrite them or run against them.
	ErrSettingsDiffer = errors.New("provisioned with other settings")
)

// Verify checks that every stream, consumer and bucket a service needs
// exists with the settings it depends on, and says what is missing or
// differs, naming the setting to change.
func Verify(ctx context.Context, js jetstream.JetStream, s Settings, models ...string) error {
	l := desired(s, models...)
	if err := checkNames(l); err != nil {
		return fmt.Errorf("%w: %w", ErrSettingsDiffer, err)
	}
	var missing, differ []string
	for _, want := range l.streams {
		st, err := js.Stream(ctx, want.Name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			missing = append(missing, "stream "+want.Name)
			continue
		}
		if err != nil {
			return fmt.Errorf("stream %s: %w", want.Name, err)
		}
		differ = append(differ, streamDiff(want, st.CachedInfo().Config)...)
	}
	for _, want := range l.consumers {
		c, err := js.Consumer(ctx, want.stream, want.cfg.Durable)
		if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
			missing = append(missing, "consumer "+want.cfg.Durable)
			continue
		}
		if err != nil {
			return fmt.Errorf("consumer %s: %w", want.cfg.Durable, err)
		}
		differ = append(differ, consumerDiff(want.cfg, c.CachedInfo().Config)...)
	}
	for _, want := range l.buckets {
		st, err := js.Stream(ctx, "KV_"+want.Bucket)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			missing = append(missing, "bucket "+want.Bucket)
			continue
		}
		if err != nil {
			return fmt.Errorf("bucket %s: %w", want.Bucket, err)
		}
		got := st.CachedInfo().Config
		differ = append(differ, compare("bucket "+want.Bucket, []diffItem{
			{"replicas", "CYBERIMAGE_REPLICAS", want.Replicas, got.Replicas},
			{"history", "", int64(want.History), got.MaxMsgsPerSubject},
			{"ttl", "", want.TTL, got.MaxAge},
			{"per-key ttl", "", want.LimitMarkerTTL != 0, got.AllowMsgTTL},
		})...)
	}
	switch {
	case len(differ) > 0:
		return fmt.Errorf("%w: %s", ErrSettingsDiffer, strings.Join(differ, "; "))
	case len(missing) > 0:
		return fmt.Errorf("%w: %s missing", ErrNotProvisioned, strings.Join(missing, ", "))
	}
	return nil
}

type diffItem struct {
	field, setting string
	want, got      any
}

func compare(what string, items []diffItem) []string {
	var out []string
	for _, it := range items {
		if fmt.Sprint(it.want) == fmt.Sprint(it.got) {
			continue
		}
		line := fmt.Sprintf("%s has %s %v, this service expects %v", what, it.field, it.got, it.want)
		if it.setting != "" {
			line += " (" + it.setting + ")"
		}
		out = append(out, line)
	}
	return out
}

func streamDiff(want, got jetstream.StreamConfig) []string {
	ws, gs := slices.Clone(want.Subjects), slices.Clone(got.Subjects)
	slices.Sort(ws)
	slices.Sort(gs)
	return compare("stream "+want.Name, []diffItem{
		{"subjects", "", ws, gs},
		{"retention", "", want.Retention, got.Retention},
		{"replicas", "CYBERIMAGE_REPLICAS", want.Replicas, got.Replicas},
		{"no-ack", "", want.NoAck, got.NoAck},
	})
}

func consumerDiff(want, got jetstream.ConsumerConfig) []string {
	items := []diffItem{
		{"filter", "", want.FilterSubject, got.FilterSubject},
		{"ack policy", "", want.AckPolicy, got.AckPolicy},
		{"backoff", "", len(want.BackOff), len(got.BackOff)},
	}
	// Figures left unset are the server's defaults, which it fills in.
	if want.AckWait != 0 {
		items = append(items, diffItem{"ack wait", "CYBERIMAGE_ACK_WAIT", want.AckWait, got.AckWait})
	}
	if want.MaxDeliver != 0 {
		items = append(items, diffItem{"max deliver", "CYBERIMAGE_MAX_DELIVER", want.MaxDeliver, got.MaxDeliver})
	}
	if want.MaxAckPending != 0 {
		items = append(items, diffItem{"max ack pending", "CYBERIMAGE_MAX_ACK_PENDING", want.MaxAckPending, got.MaxAckPending})
	}
	return compare("consumer "+want.Durable, items)
}

// WaitProvisioned calls Verify until the pipeline is provisioned (or ctx
// ends), telling onWait about each attempt that found NATS down or
// something missing: services may start before the server and before the
// provision step. Settings that differ end the wait with the error: the
// service must not start.
func WaitProvisioned(ctx context.Context, js jetstream.JetStream, s Settings, onWait func(error), models ...string) error {
	wait := lifecycle.Policy{Backoff: backoff.Fixed(time.Second), TryTimeout: 5 * time.Second,
		OnRetry: func(_ int, err error, _ time.Duration) { onWait(err) }}
	return lifecycle.Retry(ctx, wait, func(ctx context.Context) error {
		err := Verify(ctx, js, s, models...)
		if errors.Is(err, ErrSettingsDiffer) {
			return lifecycle.Permanent(err)
		}
		return err
	})
}

// ExitCode is how a service that failed to start exits: 2 when the system
// was provisioned with other settings (a configuration error, like a bad
// setting), 1 otherwise.
func ExitCode(err error) int {
	if errors.Is(err, ErrSettingsDiffer) {
		return 2
	}
	return 1
}
