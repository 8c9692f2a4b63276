package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/backoff"
)

// noPeers is what the meta leader answers a stream create at R3 before it
// has heard from all three nodes.
var noPeers = &jetstream.APIError{Code: 400, ErrorCode: 10005, Description: "no suitable peers for placement, peer offline"}

func TestClassifyRetriesOnlyWhatNATSEndsByItself(t *testing.T) {
	for _, c := range []struct {
		name     string
		err      error
		notReady bool
	}{
		{"no suitable peers", noPeers, true},
		{"no meta leader", &jetstream.APIError{Code: 503, ErrorCode: 10008, Description: "JetStream system temporarily unavailable"}, true},
		{"insufficient resources", &jetstream.APIError{Code: 503, ErrorCode: 10023, Description: "insufficient resources"}, true},
		{"JetStream starting", jetstream.ErrJetStreamNotEnabled, true},
		{"no responders", fmt.Errorf("request: %w", nats.ErrNoResponders), true},
		{"request timed out", context.DeadlineExceeded, true},
		{"create raced an earlier attempt", jetstream.ErrStreamNameAlreadyInUse, true},
		{"R3 on a single server", &jetstream.APIError{Code: 500, ErrorCode: 10074, Description: "replicas > 1 not supported in non-clustered mode"}, false},
		{"replicas not updatable", &jetstream.APIError{Code: 400, ErrorCode: 10061, Description: "Replicas configuration can not be updated"}, false},
		{"permissions", nats.ErrPermissionViolation, false},
		{"caller gave up", context.Canceled, false},
		{"anything else", errors.New("boom"), false},
	} {
		got := classify(c.err)
		if errors.Is(got, ErrNotReady) != c.notReady {
			t.Errorf("%s: classify(%v) = %v, want not-ready %v", c.name, c.err, got, c.notReady)
		}
		if !errors.Is(got, c.err) {
			t.Errorf("%s: classify lost the cause: %v", c.name, got)
		}
	}
	if classify(nil) != nil {
		t.Error("classify(nil) is not nil")
	}
}

// fakeJS answers stream creates from a script: each entry is the error of
// one call (nil: success), a hang until the request's deadline for errHang;
// calls past the script succeed. Consumers and buckets always succeed.
type fakeJS struct {
	jetstream.JetStream
	script  []error
	streams int
}

var errHang = errors.New("hang")

func (f *fakeJS) CreateOrUpdateStream(ctx context.Context, _ jetstream.StreamConfig) (jetstream.Stream, error) {
	f.streams++
	if f.streams > len(f.script) {
		return nil, nil
	}
	if err := f.script[f.streams-1]; err == errHang {
		<-ctx.Done()
		return nil, ctx.Err()
	} else {
		return nil, err
	}
}

// Conn is none: the fake is always answered.
func (f *fakeJS) Conn() *nats.Conn { return nil }

// Consumer: none exists yet (Ensure looks, to carry a pause over).
func (f *fakeJS) Consumer(context.Context, string, string) (jetstream.Consumer, error) {
	return nil, jetstream.ErrConsumerNotFound
}

func (f *fakeJS) CreateOrUpdateConsumer(context.Context, string, jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	return nil, nil
}

func (f *fakeJS) CreateOrUpdateKeyValue(context.Context, jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	return nil, nil
}

var steady = backoff.Policy{Base: time.Second, Max: 4 * time.Second}

// A cluster still forming: one request nobody answers, then placement
// errors, then success. Provision waits each out with backoff, says so
// once per attempt, and succeeds.
func TestProvisionWaitsForAFormingCluster(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		js := &fakeJS{script: []error{errHang, noPeers, noPeers, noPeers}}
		var retries []ProvisionRetry
		start := time.Now()
		err := ProvisionWith(context.Background(), js, ProvisionParams{Settings: DefaultSettings(), Models: []string{"demo"},
			Backoff: steady, Progress: func(r ProvisionRetry) { retries = append(retries, r) }})
		if err != nil {
			t.Fatalf("provision: %v", err)
		}
		if len(retries) != 4 {
			t.Fatalf("%d progress lines, want one per failed attempt (4): %v", len(retries), retries)
		}
		for i, r := range retries {
			if r.Attempt != i+1 || !errors.Is(r.Err, ErrNotReady) || r.Next != steady.Delay(i+1) {
				t.Errorf("retry %d: %+v", i+1, r)
			}
		}
		if !errors.Is(retries[0].Err, context.DeadlineExceeded) || retries[0].Elapsed != requestTimeout {
			t.Errorf("the unanswered request was not cut at %s: %+v", requestTimeout, retries[0])
		}
		if line := retries[1].String(); !strings.Contains(line, "attempt 2") || !strings.Contains(line, "no suitable peers") {
			t.Errorf("progress line: %s", line)
		}
		// 10 s request timeout, then 1+2+4+4 s of backoff.
		if took := time.Since(start); took != requestTimeout+11*time.Second {
			t.Errorf("took %s", took)
		}
	})
}

// An error NATS will not end by itself ends Provision at the first try.
func TestProvisionStopsAtOnceOnAPermanentError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		permanent := &jetstream.APIError{Code: 500, ErrorCode: 10074, Description: "replicas > 1 not supported in non-clustered mode"}
		js := &fakeJS{script: []error{permanent}}
		heard := 0
		start := time.Now()
		err := ProvisionWith(context.Background(), js, ProvisionParams{Settings: DefaultSettings(),
			Progress: func(ProvisionRetry) { heard++ }})
		if !errors.Is(err, permanent) || errors.Is(err, ErrNotReady) {
			t.Fatalf("provision: %v", err)
		}
		if js.streams != 1 || heard != 0 || time.Since(start) != 0 {
			t.Fatalf("%d calls, %d progress lines, %s: want one call at once", js.streams, heard, time.Since(start))
		}
	})
}

// A cluster that never forms (R3 on two nodes) ends the wait at its
// deadline, with the last answer in the error.
func TestProvisionGivesUpAtItsDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		js := &fakeJS{script: make([]error, 1000)}
		for i := range js.script {
			js.script[i] = noPeers
		}
		start := time.Now()
		err := ProvisionWith(context.Background(), js, ProvisionParams{Settings: DefaultSettings(), Timeout: 30 * time.Second, Backoff: steady})
		if !errors.Is(err, ErrNotReady) || !errors.Is(err, noPeers) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("provision: %v", err)
		}
		if !strings.Contains(err.Error(), "gave up after 30s") {
			t.Errorf("error: %v", err)
		}
		if took := time.Since(start); took != 30*time.Second {
			t.Errorf("took %s, want the 30 s deadline", took)
		}
	})
}
