// Package intake turns requests from the requests stream into jobs: it
// validates each one, records it in KV, queues it as work and answers the
// requester when there is one to answer.
package intake

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"cyberimage/shared/backoff"
	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/lifecycle"
	"cyberimage/shared/tracing"
)

// Params are what a Processor needs.
type Params struct {
	NC          *nats.Conn
	JS          jetstream.JetStream
	Store       *jobstore.Store
	Models      job.Models
	Concurrency int
	Logger      *zap.Logger
	Stats       *Stats
	// Callbacks are the hosts a request's callback_url may name.
	Callbacks job.CallbackHosts
	// Quotas limits each client's queued jobs and rate; nil: no limits.
	Quotas Quotas
}

// Processor consumes the requests stream.
type Processor struct {
	p       Params
	log     *zap.Logger
	replies *replies

	bind *binding
	subs []*nats.Subscription
	// ctx ends when Stop begins: the pull loop and the binding stop.
	ctx    context.Context
	cancel context.CancelFunc
	// loops check the binding and expire unanswered inboxes.
	loops   lifecycle.Group
	wg      sync.WaitGroup
	workers chan struct{}
}

// New makes a Processor; Start begins consuming.
func New(p Params) *Processor {
	if p.Stats == nil {
		p.Stats = &Stats{}
	}
	if p.Stats.Drops == nil {
		p.Stats.Drops = bus.NewDrops(p.Logger.Named("bus"), time.Minute)
	}
	pr := &Processor{p: p, log: p.Logger.Named("intake"), workers: make(chan struct{}, p.Concurrency)}
	pr.ctx, pr.cancel = context.WithCancel(context.Background())
	pr.bind = &binding{js: p.JS, pull: p.Concurrency, log: pr.log, stats: p.Stats}
	pr.replies = newReplies(pr.sendReply, time.Now)
	pr.loops = lifecycle.Group{
		lifecycle.NewLoop(checkEvery, pr.bind.check),
		lifecycle.NewLoop(answerTTL/2, func(context.Context) { pr.replies.expire() }),
	}
	return pr
}

// Start subscribes for reply inboxes and starts consuming requests.
func (pr *Processor) Start(ctx context.Context) error {
	// Every ingest instance notes every inbox (no queue group): whichever
	// instance pulls the stream message can then answer it. Requests come
	// on the bare subject and on each client's own.
	for _, subject := range []string{bus.SubjectRequests, bus.SubjectRequestsAll} {
		sub, err := pr.p.NC.Subscribe(subject, bus.Guard(pr.p.Stats.Drops, "request inbox", pr.noteInbox))
		if err != nil {
			return fmt.Errorf("subscribe %s: %w", subject, err)
		}
		pr.subs = append(pr.subs, sub)
	}
	if _, err := pr.p.JS.Consumer(ctx, bus.StreamRequests, bus.ConsumerIngest); err != nil {
		return fmt.Errorf("consumer %s: %w", bus.ConsumerIngest, err)
	}
	pr.wg.Add(1)
	go pr.pull(pr.ctx)
	return pr.loops.Start(ctx)
}

// noteInbox remembers the reply inbox of a request seen on the core
// subscription, for the answer made from its stream copy.
func (pr *Processor) noteInbox(m *nats.Msg) {
	if m.Reply == "" {
		return
	}
	// A requester chooses its reply subject, and ingest would answer
	// there with its own rights: only a client's inbox is answered.
	// The request itself is still taken from the stream and handled;
	// only its answer goes nowhere, counted and logged.
	if err := bus.CheckAnswerSubject(m.Reply); err != nil {
		pr.p.Stats.Drops.Note("reply_subject_refused", m.Subject, err)
		return
	}
	pr.replies.expect(m.Subject, m.Data, m.Reply)
}

// Ready reports whether ingest is bound to its consumer and takes requests.
func (pr *Processor) Ready() bool { return pr.bind.bound.Load() }

// pull takes requests until ctx ends (Stop), one iterator after another:
// next binds to the consumer (lifecycle.Retry, while it is missing; not
// before the quota counts caught up),
// consume takes requests until the iterator ends (the consumer deleted, a
// NATS node gone), and the next bind is tried at once.
func (pr *Processor) pull(ctx context.Context) {
	defer pr.wg.Done()
	if !pr.waitForQuotas(ctx) {
		return // stopping
	}
	for {
		iter := pr.bind.next(ctx)
		if iter == nil {
			return // stopping
		}
		err := pr.consume(iter)
		if ctx.Err() != nil {
			return
		}
		pr.bind.lost(err)
	}
}

// consume handles requests from one iterator until it ends.
func (pr *Processor) consume(iter jetstream.MessagesContext) error {
	for {
		msg, err := iter.Next()
		if err != nil {
			return err
		}
		pr.workers <- struct{}{}
		pr.wg.Add(1)
		go func() {
			defer func() { <-pr.workers; pr.wg.Done() }()
			defer pr.survive(msg)
			pr.handle(msg)
		}()
	}
}

// survive recovers a panic in handling one request: the request is
// terminated with the reason (it would panic again on every redelivery)
// and counted, and ingest goes on with the others.
func (pr *Processor) survive(msg jetstream.Msg) {
	p := recover()
	if p == nil {
		return
	}
	pr.p.Stats.Drops.Note("panic:request", msg.Subject(), fmt.Errorf("handling a request panicked: %v", p))
	_ = msg.TermWithReason(fmt.Sprintf("ingest could not handle this request: %v", p))
}

// Stop stops pulling, lets the requests already pulled finish (each is
// bounded by its own timeout), and waits; it always returns nil. Stop
// before Start, or a second Stop, is fine.
func (pr *Processor) Stop(ctx context.Context) error {
	pr.cancel()
	_ = pr.loops.Stop(ctx)
	pr.bind.drain()
	pr.wg.Wait()
	for _, sub := range pr.subs {
		_ = sub.Unsubscribe()
	}
	return nil
}

func (pr *Processor) sendReply(inbox string, body []byte) {
	if err := pr.p.NC.Publish(inbox, body); err != nil {
		pr.log.Warn("reply", zap.String("inbox", inbox), zap.Error(err))
	}
}

// handle decides the fate of one request message: ack when it became a job
// (or a recorded rejection), NAK with backoff when NATS failed us, so the
// request is retried and never dropped.
func (pr *Processor) handle(msg jetstream.Msg) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	meta, err := msg.Metadata()
	if err != nil {
		pr.log.Error("request metadata", zap.Error(err))
		_ = msg.Term()
		return
	}
	// The job's trace begins here, or continues the requester's when its
	// message carried a trace context.
	ctx, span := tracing.Tracer().Start(tracing.Extract(ctx, msg.Headers()), "ingest.admit",
		trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(attribute.Int64("stream_seq", int64(meta.Sequence.Stream))))
	defer span.End()
	// The subject names the sender (the server checked its right to
	// publish there); a subject naming nobody counts as the default's.
	client := bus.RequestClient(msg.Subject())
	if client == "" {
		client = bus.DefaultClient
	}
	answer, err := pr.admit(ctx, client, msg.Data(), meta)
	span.SetAttributes(attribute.String("job_id", answer.JobID), attribute.String("status", string(answer.Status)))
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		pr.p.Stats.Retried.Add(1)
		delay := retryDelay(meta.NumDelivered)
		pr.log.Warn("request not queued; will retry", zap.Uint64("stream_seq", meta.Sequence.Stream),
			zap.Uint64("delivered", meta.NumDelivered), zap.Duration("delay", delay), zap.Error(err))
		_ = msg.NakWithDelay(delay)
		return
	}
	if err := msg.Ack(); err != nil {
		// Not fatal: the redelivered request maps to the same job id.
		pr.log.Warn("ack request", zap.String("job_id", answer.JobID), zap.Error(err))
	}
	pr.replies.answer(msg.Subject(), msg.Data(), bus.EncodeRequestReply(answer))
}

// retryDelay backs off exponentially from 100 ms to 10 s, with jitter.
func retryDelay(delivered uint64) time.Duration {
	return backoff.Policy{Base: 100 * time.Millisecond, Max: 10 * time.Second, Jitter: 0.2}.Delay(int(min(delivered, 64)))
}
