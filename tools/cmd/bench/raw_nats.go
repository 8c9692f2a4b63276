package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

// natsResult is JetStream alone on the runners' path: a work message of the
// pipeline's size published to a work-queue stream, pulled from a durable
// consumer one message per fetch (as each runner slot does) and acked with
// the server's confirmation (as runners do).
type natsResult struct {
	Msgs         int     `json:"msgs"`
	PayloadBytes int     `json:"payload_bytes"`
	Consumers    int     `json:"consumers"`
	Seconds      float64 `json:"seconds"`
	MsgsPerSec   float64 `json:"msgs_per_sec"`
	// Serial is one message at a time: publish (with its stream ack), fetch,
	// ack confirmed. It is the latency of one pipeline hop with no queue.
	Serial dist `json:"serial"`
}

const (
	rawStream   = "BENCH_RAW"
	rawSubject  = "bench.raw."
	rawConsumer = "bench-raw"
)

// rawNATS measures throughput with `consumers` pullers draining msgs
// messages published asynchronously, then serial latency over `serial`
// messages. The stream and consumer copy the jobs stream's settings.
func rawNATS(ctx context.Context, url string, replicas int, natsOptions func(string) []nats.Option, work []byte, msgs, consumers, serial int, say func(string, ...any)) (natsResult, error) {
	res := natsResult{Msgs: msgs, PayloadBytes: len(work), Consumers: consumers}
	nc, err := nats.Connect(url, natsOptions("bench raw publisher")...)
	if err != nil {
		return res, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(256))
	if err != nil {
		return res, err
	}
	settings := bus.DefaultSettings()
	stream, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: rawStream, Subjects: []string{rawSubject + ">"}, Retention: jetstream.WorkQueuePolicy,
		Storage: jetstream.FileStorage, Replicas: replicas, Duplicates: 2 * time.Minute,
	})
	if err != nil {
		return res, fmt.Errorf("raw stream: %w", err)
	}
	defer func() { _ = js.DeleteStream(context.Background(), rawStream) }()
	if _, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: rawConsumer, AckPolicy: jetstream.AckExplicitPolicy, AckWait: settings.AckWait,
		MaxDeliver: settings.MaxDeliver, MaxAckPending: settings.MaxAckPending,
		FilterSubject: rawSubject + ">",
	}); err != nil {
		return res, fmt.Errorf("raw consumer: %w", err)
	}

	// Throughput: pullers on their own connections, as separate runners.
	var acked atomic.Int64
	allAcked := make(chan struct{})
	var once sync.Once
	onAck := func() {
		if acked.Add(1) == int64(msgs) {
			once.Do(func() { close(allAcked) })
		}
	}
	pullCtx, stopPull := context.WithCancel(ctx)
	defer stopPull()
	var wg sync.WaitGroup
	errs := make(chan error, consumers)
	for range consumers {
		cnc, err := nats.Connect(url, natsOptions("bench raw consumer")...)
		if err != nil {
			return res, err
		}
		defer cnc.Close()
		cjs, _ := jetstream.New(cnc)
		cons, err := cjs.Consumer(ctx, rawStream, rawConsumer)
		if err != nil {
			return res, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := pullLoop(pullCtx, cons, onAck); err != nil {
				errs <- err
			}
		}()
	}
	start := time.Now()
	for i := range msgs {
		id := fmt.Sprintf("raw-%d", i)
		if _, err := js.PublishAsync(rawSubject+"demo."+id, work, jetstream.WithMsgID(id)); err != nil {
			return res, fmt.Errorf("publish: %w", err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		return res, ctx.Err()
	}
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
wait:
	for {
		select {
		case <-allAcked:
			break wait
		case <-ctx.Done():
			return res, ctx.Err()
		case err := <-errs:
			return res, err
		case <-tick.C:
			say("raw nats: %d/%d acked", acked.Load(), msgs)
		}
	}
	elapsed := time.Since(start)
	stopPull()
	wg.Wait()
	res.Seconds = round3(elapsed.Seconds())
	res.MsgsPerSec = round3(float64(msgs) / elapsed.Seconds())

	// Serial latency.
	cons, err := js.Consumer(ctx, rawStream, rawConsumer)
	if err != nil {
		return res, err
	}
	lat := make([]float64, 0, serial)
	for i := range serial {
		id := fmt.Sprintf("serial-%d", i)
		t0 := time.Now()
		if _, err := js.Publish(ctx, rawSubject+"demo."+id, work, jetstream.WithMsgID(id)); err != nil {
			return res, fmt.Errorf("publish: %w", err)
		}
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return res, fmt.Errorf("fetch: %w", err)
		}
		got := false
		for msg := range batch.Messages() {
			if err := msg.DoubleAck(ctx); err != nil {
				return res, fmt.Errorf("ack: %w", err)
			}
			got = true
		}
		if !got {
			return res, errors.New("serial: message not delivered within 5s")
		}
		lat = append(lat, job.Millis(time.Since(t0)))
	}
	res.Serial = summarize(lat)
	return res, nil
}

// pullLoop is one runner slot without the job: fetch one, ack it, repeat.
func pullLoop(ctx context.Context, cons jetstream.Consumer, onAck func()) error {
	for ctx.Err() == nil {
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return fmt.Errorf("fetch: %w", err)
		}
		for msg := range batch.Messages() {
			if err := msg.DoubleAck(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("ack: %w", err)
			}
			onAck()
		}
	}
	return nil
}

// sampleWork is a work message as ingest queues it for the benchmark's
// request: the real JSON of bus.Work, so its size is the pipeline's.
func sampleWork(spec job.Spec) []byte {
	return mustJSON(bus.Work{JobID: job.IDForRequestID("bench-sample"), Spec: spec})
}
