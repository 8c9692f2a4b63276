package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/job"
)

// dedupWindow is how long JetStream remembers a Nats-Msg-Id. Ingest retries
// a publish within seconds, so two minutes is ample.
const dedupWindow = 2 * time.Minute

// LeaseTTL is how long a supervisor leader lease lives without renewal.
const LeaseTTL = 10 * time.Second

// RunnerHistoryTTL is how long the watchdog remembers a runner it has not
// judged since.
const RunnerHistoryTTL = 24 * time.Hour

// RecordMarkerTTL is how long the marker of an expired job record stays in
// the bucket: long enough for every watcher to see the key go.
const RecordMarkerTTL = 15 * time.Minute

// consumerSpec is a durable consumer of a stream.
type consumerSpec struct {
	stream string
	cfg    jetstream.ConsumerConfig
}

// layout is every stream, consumer and bucket the pipeline needs with the
// given settings, and the runners' consumer of each model named: the one
// description both provisioning (Ensure) and the services' start-up check
// (Verify) read, so they cannot disagree.
type layout struct {
	streams   []jetstream.StreamConfig
	consumers []consumerSpec
	buckets   []jetstream.KeyValueConfig
}

func desired(s Settings, models ...string) layout {
	return layout{streams: desiredStreams(s), consumers: desiredConsumers(s, models), buckets: desiredBuckets(s)}
}

// desiredStreams are the pipeline's streams.
func desiredStreams(s Settings) []jetstream.StreamConfig {
	return []jetstream.StreamConfig{
		{
			Name:        StreamRequests,
			Description: "Image-generation requests as users publish them",
			Subjects:    []string{SubjectRequests, SubjectRequestsAll},
			Retention:   jetstream.WorkQueuePolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    s.Replicas,
			Duplicates:  dedupWindow,
			// The reply subject of `nats req` belongs to ingest's answer
			// (job id or error), so the stream must not answer it first
			// with a publish ack.
			NoAck: true,
			// Bounded, so requests published while ingest is down cannot
			// fill the server's disk: once full, new requests are refused
			// (not stored, so never accepted) and what is stored stays.
			MaxBytes: RequestsMaxBytes, Discard: jetstream.DiscardNew,
			// The server's own payload limit, stated: whatever it takes
			// is stored, and one over the contract's 64 KiB gets its
			// too_large rejection recorded by ingest.
			MaxMsgSize: RequestsMaxMsgSize,
		},
		{
			Name:        StreamDLQ,
			Description: "Work of jobs that failed for good, with the reason in headers",
			Subjects:    []string{SubjectDLQAll},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    s.Replicas,
			Duplicates:  dedupWindow,
			MaxAge:      30 * 24 * time.Hour,
		},
		{
			Name:        StreamAdvisories,
			Description: "Max-deliveries and terminated advisories of the runners' consumer",
			Subjects:    []string{SubjectMaxDeliveries, SubjectTerminated},
			Retention:   jetstream.WorkQueuePolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    s.Replicas,
			MaxAge:      7 * 24 * time.Hour,
		},
		{
			Name:        StreamJobs,
			Description: "Validated jobs waiting for a GPU runner",
			Subjects:    []string{SubjectJobsAll},
			Retention:   jetstream.WorkQueuePolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    s.Replicas,
			Duplicates:  dedupWindow,
		},
	}
}

// desiredConsumers are ingest's and the supervisor's consumers and the
// runners' consumers of each model, one per priority class. The normal
// one comes first: provisioning over a layout from before priorities
// narrows its filter (cyberimage.jobs.<model>.> then) before the high and
// low consumers, which the old filter overlapped, are made.
func desiredConsumers(s Settings, models []string) []consumerSpec {
	consumers := []consumerSpec{
		{StreamRequests, jetstream.ConsumerConfig{
			Durable:       ConsumerIngest,
			Description:   "ingest: validate and queue requests",
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       30 * time.Second,
			MaxAckPending: 1024,
		}},
		{StreamAdvisories, jetstream.ConsumerConfig{
			Durable:     ConsumerSupervisor,
			Description: "supervisor: fail and dead-letter jobs",
			AckPolicy:   jetstream.AckExplicitPolicy,
			AckWait:     30 * time.Second,
		}},
	}
	named := map[string]bool{}
	for _, model := range models {
		if named[model] {
			continue // named twice: one set of consumers
		}
		named[model] = true
		for _, p := range []job.Priority{job.PriorityNormal, job.PriorityHigh, job.PriorityLow} {
			consumers = append(consumers, runnerConsumer(s, model, p))
		}
	}
	return consumers
}

// runnerConsumer is the runners' consumer of one class of a model's work.
func runnerConsumer(s Settings, model string, p job.Priority) consumerSpec {
	return consumerSpec{StreamJobs, jetstream.ConsumerConfig{
		Durable:     ClassConsumer(model, p),
		Description: "gpu-runner: generate images of model " + model + ", " + string(p) + " priority",
		AckPolicy:   jetstream.AckExplicitPolicy,
		// No BackOff: JetStream offsets a NAK's delay from AckWait, not
		// from the backoff entry in force, so with a BackOff list a
		// recovery NAK of 2 s redelivered after BackOff[1]-AckWait+2 s
		// (62 s with the defaults). Every delay the pipeline wants is
		// given with the NAK itself.
		AckWait:       s.AckWait,
		MaxDeliver:    s.MaxDeliver,
		MaxAckPending: s.MaxAckPending,
		MaxWaiting:    s.MaxWaitingPulls,
		FilterSubject: classFilter(model, p),
	}}
}

// keptState is cfg with what an existing consumer of that name keeps
// through provisioning: a paused queue stays paused (pause.go), and its
// bound on waiting pulls stays, which the server refuses to change (a
// consumer made with another one keeps it until an operator replaces the
// consumer: docs/operations.md).
func keptState(ctx context.Context, js jetstream.JetStream, stream string, cfg jetstream.ConsumerConfig) (jetstream.ConsumerConfig, error) {
	cons, err := js.Consumer(ctx, stream, cfg.Durable)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return cfg, nil
	}
	if err != nil {
		return cfg, err
	}
	info := cons.CachedInfo()
	if info.Paused {
		cfg.PauseUntil = info.Config.PauseUntil
	}
	cfg.MaxWaiting = info.Config.MaxWaiting
	return cfg, nil
}

// checkNames refuses a list of models whose consumers would share a name
// (a model named "<other>-high" beside <other>): the layout would describe
// one consumer twice, with two filters.
func checkNames(l layout) error {
	seen := map[string]bool{}
	for _, c := range l.consumers {
		key := c.stream + "/" + c.cfg.Durable
		if seen[key] {
			return fmt.Errorf("two models' consumers would both be named %s: rename one of the models", c.cfg.Durable)
		}
		seen[key] = true
	}
	return nil
}

// desiredBuckets are the pipeline's key-value buckets.
func desiredBuckets(s Settings) []jetstream.KeyValueConfig {
	return []jetstream.KeyValueConfig{
		{
			Bucket:      BucketJobs,
			Description: "Job records, keyed by job id",
			History:     1,
			Storage:     jetstream.FileStorage,
			Replicas:    s.Replicas,
			// Ended records carry a per-message TTL (jobstore.Retention)
			// and leave the bucket when it runs out; this allows it, and
			// leaves a marker that tells watchers the key is gone.
			LimitMarkerTTL: RecordMarkerTTL,
		},
		{
			Bucket:      BucketRunners,
			Description: "Watchdog history of each runner: recent stalls and reload orders",
			History:     1,
			// Only the recovery cooldown's worth matters; a runner gone for a
			// day is forgotten.
			TTL:      RunnerHistoryTTL,
			Storage:  jetstream.FileStorage,
			Replicas: s.Replicas,
		},
		{
			Bucket:      BucketSupervisor,
			Description: "Supervisor state kept across restarts (archive checkpoint)",
			History:     1,
			Storage:     jetstream.FileStorage,
			Replicas:    s.Replicas,
		},
		{
			Bucket:      BucketWebhooks,
			Description: "Webhook deliveries of ended jobs, keyed by job id",
			History:     1,
			Storage:     jetstream.FileStorage,
			Replicas:    s.Replicas,
			// Each entry carries its record's retention as a per-message
			// TTL (written by the supervisor, which knows it).
			LimitMarkerTTL: RecordMarkerTTL,
		},
		{
			Bucket:      BucketLeases,
			Description: "Leader lease of the supervisors",
			History:     1,
			TTL:         LeaseTTL,
			Storage:     jetstream.FileStorage,
			Replicas:    s.Replicas,
		},
	}
}

// requestTimeout bounds each request of Ensure: one sent to a node that
// just died, or while a cluster still forms its routes, is never answered,
// and would otherwise hold Ensure for its caller's whole deadline.
const requestTimeout = 10 * time.Second

// Ensure provisions the pipeline: it creates or updates every stream,
// consumer and bucket, with these settings, and the runners' consumer of
// each model named. It is idempotent, so an attempt cut short is finished
// by the next. Only provisioning calls it (the provision command, make
// run, tests); services only Verify, so a service started with other
// settings can never rewrite the system's.
//
// It tries once: an error NATS will end by itself (a cluster still
// forming, no answer) is wrapped with ErrNotReady, and Provision is the
// caller that waits those out.
func Ensure(ctx context.Context, js jetstream.JetStream, s Settings, models ...string) error {
	l := desired(s, models...)
	if err := checkNames(l); err != nil {
		return err
	}
	for _, cfg := range l.streams {
		if err := bounded(ctx, func(ctx context.Context) error {
			_, err := js.CreateOrUpdateStream(ctx, cfg)
			return err
		}); err != nil {
			return fmt.Errorf("ensure stream %s: %w", cfg.Name, err)
		}
	}
	for _, c := range l.consumers {
		if err := bounded(ctx, func(ctx context.Context) error {
			cfg, err := keptState(ctx, js, c.stream, c.cfg)
			if err != nil {
				return err
			}
			_, err = js.CreateOrUpdateConsumer(ctx, c.stream, cfg)
			return err
		}); err != nil {
			return fmt.Errorf("ensure consumer %s: %w", c.cfg.Durable, err)
		}
	}
	for _, cfg := range l.buckets {
		if err := bounded(ctx, func(ctx context.Context) error {
			_, err := js.CreateOrUpdateKeyValue(ctx, cfg)
			return err
		}); err != nil {
			return fmt.Errorf("ensure bucket %s: %w", cfg.Bucket, err)
		}
	}
	return nil
}

// bounded runs one request of Ensure within requestTimeout and classifies
// its error.
func bounded(ctx context.Context, request func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	return classify(request(ctx))
}
