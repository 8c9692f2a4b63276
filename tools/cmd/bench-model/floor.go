package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/s3layout"
	"cyberimage/tools/internal/benchmodel"
)

// The design's floor: every NATS message and S3 object the pipeline spends
// on a job, made with plain nats.go and minio-go calls in this one process,
// with none of the services' own code around them (no logging, metrics,
// tracing, retries, fence checks, stall clocks, lifecycle or index). It is
// built in parts, each adding what one guarantee costs, in this order:
//
//   - queue: the work is published with a deduplication id and the
//     server's ack, a runner slot pulls one message when free, generates,
//     encodes, PUTs the PNG with its metadata, and acks: a durable queue
//     with acks and nothing else (what asynq is);
//   - record: the job's record is created before its work is queued, and
//     the slot claims it (a compare-and-set) before it runs and ends it
//     (a compare-and-set with the retention TTL) before it acks: lookups,
//     counts, cancel, and the fence;
//   - intake: requests land on their own stream as `nats pub` sends them; a
//     core subscription sees them too (ingest's reply pairing); "ingest"
//     pulls them in batches, decodes them strictly, queues each job, and
//     acks the request: durable intake that bad input cannot block;
//   - events: the slot publishes the `completed` event, and one watcher
//     (the harness) receives it: live progress;
//   - supervisor: a follower of every record write (decoded), every event
//     and every ack of the work: the index, the watchdog's silence rule;
//   - archive: ended records are PUT to S3 in gzip segments (one PUT per
//     second or per 1,000 records, as the supervisor's archive writes them;
//     its index pages, written once a minute, are left out): history in S3.
//
// With every part it is the whole design. The pipeline's CPU per job beyond
// the floor is what the services' code costs; the floor's beyond the raw
// loop is what the design itself costs. One process, with no context
// switches between services, so it is a lower bound.

// floorPart is one part of the floor; each includes those before it.
type floorPart int

const (
	partQueue floorPart = iota
	partRecord
	partIntake
	partEvents
	partSupervisor
	partArchive
)

func parseFloorPart(name string) (floorPart, error) {
	for i, n := range benchmodel.FloorParts {
		if n == name {
			return floorPart(i), nil
		}
	}
	return 0, fmt.Errorf("-floor-upto %q: one of %v", name, benchmodel.FloorParts)
}

type floorOptions struct {
	jobs, paced, workers, replicas int
	upto                           floorPart
}

// floor is one run's streams, bucket and clients, named apart from the
// pipeline's (and from other runs') so they share the server and nothing else.
type floor struct {
	o        options
	fo       floorOptions
	nc       *nats.Conn
	js       jetstream.JetStream
	kv       jetstream.KeyValue
	work            // the store (s3, bucket, images) and the slots
	prefix   string // subjects: <prefix>.requests, <prefix>.jobs.<id>, <prefix>.events.<id>
	requests string // stream names
	jobs     string
	kvBucket string
	ended    chan struct{} // one per job ended, for the harness side
	stopped  chan struct{}
	wg       sync.WaitGroup
	// endedRecords and archivedRecords let close wait for the archive, as
	// the pipeline's supervisor would finish it.
	endedRecords, archivedRecords atomic.Int64
	timingsMu                     sync.Mutex
	inferences                    []time.Duration
	encodes                       []time.Duration
	uploads                       []time.Duration
	// zw and segment are the archive's, reused by its one goroutine as the
	// supervisor's archive reuses them (a deflate state costs several
	// hundred KB to make), so the floor pays what the product pays.
	zw      *gzip.Writer
	segment bytes.Buffer
}

func (f *floor) has(p floorPart) bool { return p <= f.fo.upto }

func runFloor(o options, fo floorOptions) (benchmodel.Floor, error) {
	res := benchmodel.Floor{Workers: fo.workers, Upto: benchmodel.FloorParts[fo.upto]}
	f, err := openFloor(o, fo)
	if err != nil {
		return res, err
	}
	defer f.close()
	ctx := context.Background()
	if err := f.start(ctx); err != nil {
		return res, err
	}
	if fo.jobs > 0 {
		start := time.Now()
		if err := f.publishAll(ctx, "b", fo.jobs); err != nil {
			return res, err
		}
		res.Jobs, res.Seconds = fo.jobs, time.Since(start).Seconds()
		res.JobsPerSec = float64(fo.jobs) / res.Seconds
	}
	if fo.paced > 0 {
		f.timingsMu.Lock()
		f.inferences, f.encodes, f.uploads = nil, nil, nil
		f.timingsMu.Unlock()
		e2e := make([]time.Duration, 0, fo.paced)
		for i := range fo.paced {
			t0 := time.Now()
			if err := f.publishAll(ctx, "p"+strconv.Itoa(i)+"-", 1); err != nil {
				return res, err
			}
			e2e = append(e2e, time.Since(t0))
		}
		f.timingsMu.Lock()
		res.Paced = fo.paced
		res.E2EP50MS, res.InferenceP50MS, res.UploadP50MS = p50(e2e), p50(f.inferences), p50(f.uploads)
		res.EncodeP50MS = p50(f.encodes)
		f.timingsMu.Unlock()
	}
	return res, nil
}

func openFloor(o options, fo floorOptions) (*floor, error) {
	w, err := openWork(o, fo.workers)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	conn := bus.Conn{URL: os.Getenv("CYBERIMAGE_NATS_URL"), CredsFile: os.Getenv("CYBERIMAGE_NATS_CREDS"), TLSCA: os.Getenv("CYBERIMAGE_NATS_TLS_CA")}
	nc, js, err := bus.Connect(conn, "bench-floor", nil)
	if err != nil {
		w.close()
		return nil, err
	}
	tag := strconv.FormatInt(time.Now().UnixNano(), 36)
	f := &floor{o: o, fo: fo, nc: nc, js: js, work: w,
		prefix: "floor" + tag, requests: "FLOOR_" + tag + "_REQUESTS", jobs: "FLOOR_" + tag + "_JOBS", kvBucket: "floor_" + tag,
		ended: make(chan struct{}, 1024), stopped: make(chan struct{})}
	f.zw, _ = gzip.NewWriterLevel(io.Discard, gzip.BestSpeed) // a valid level: no error
	if err := f.provision(ctx); err != nil {
		f.close()
		return nil, err
	}
	return f, nil
}

// provision makes the floor's streams, consumers and bucket with the
// pipeline's settings (bus.Ensure's), under the floor's own names.
func (f *floor) provision(ctx context.Context) error {
	r := max(f.fo.replicas, 1)
	if _, err := f.js.CreateStream(ctx, jetstream.StreamConfig{Name: f.jobs, Subjects: []string{f.prefix + ".jobs.>"},
		Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage, Replicas: r, Duplicates: 2 * time.Minute}); err != nil {
		return fmt.Errorf("floor jobs stream: %w", err)
	}
	if _, err := f.js.CreateConsumer(ctx, f.jobs, jetstream.ConsumerConfig{Durable: "runners", AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: 30 * time.Second, MaxDeliver: 5, MaxAckPending: 1000, FilterSubject: f.prefix + ".jobs.>"}); err != nil {
		return fmt.Errorf("floor runners consumer: %w", err)
	}
	if f.has(partRecord) {
		kv, err := f.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: f.kvBucket, History: 1, Storage: jetstream.FileStorage,
			Replicas: r, LimitMarkerTTL: bus.RecordMarkerTTL})
		if err != nil {
			return fmt.Errorf("floor bucket: %w", err)
		}
		f.kv = kv
	}
	if !f.has(partIntake) {
		return nil
	}
	if _, err := f.js.CreateStream(ctx, jetstream.StreamConfig{Name: f.requests, Subjects: []string{f.prefix + ".requests"},
		Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage, Replicas: r, Duplicates: 2 * time.Minute, NoAck: true}); err != nil {
		return fmt.Errorf("floor requests stream: %w", err)
	}
	if _, err := f.js.CreateConsumer(ctx, f.requests, jetstream.ConsumerConfig{Durable: "ingest", AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: 30 * time.Second, MaxAckPending: 1024}); err != nil {
		return fmt.Errorf("floor ingest consumer: %w", err)
	}
	return nil
}

// close stops the floor's goroutines and removes its streams and bucket.
func (f *floor) close() {
	for wait := time.Now(); f.archivedRecords.Load() < f.endedRecords.Load() && time.Since(wait) < 30*time.Second; {
		time.Sleep(10 * time.Millisecond)
	}
	close(f.stopped)
	f.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if f.js != nil {
		_ = f.js.DeleteStream(ctx, f.requests)
		_ = f.js.DeleteStream(ctx, f.jobs)
		_ = f.js.DeleteKeyValue(ctx, f.kvBucket)
	}
	f.work.close()
	if f.nc != nil {
		f.nc.Close()
	}
}

// publishAll publishes n requests as `nats pub` does (with the intake
// part; without it, queues their jobs directly, at ingest's concurrency)
// and waits until they have all ended.
func (f *floor) publishAll(ctx context.Context, tag string, n int) error {
	sem := make(chan struct{}, floorIngestConcurrency)
	failed := make(chan error, 1)
	for i := range n {
		spec := job.Spec{Prompt: benchmodel.Prompt, Model: "demo", Width: f.o.size, Height: f.o.size,
			Steps: f.o.steps, Guidance: 7.5, Seed: int64(i), NumImages: 1, RequestID: tag + strconv.Itoa(i)}
		if !f.has(partIntake) {
			sem <- struct{}{}
			go func() {
				defer func() { <-sem }()
				if err := f.queue(ctx, job.NewID(time.Now(), spec.RequestID), spec); err != nil {
					select {
					case failed <- err:
					default:
					}
				}
			}()
			continue
		}
		req := fmt.Sprintf(`{"prompt":%q,"model":"demo","width":%d,"height":%d,"steps":%d,"seed":%d,"request_id":%q}`,
			spec.Prompt, spec.Width, spec.Height, spec.Steps, spec.Seed, spec.RequestID)
		if err := f.nc.Publish(f.prefix+".requests", []byte(req)); err != nil {
			return err
		}
	}
	deadline := time.After(5 * time.Minute)
	for range n {
		select {
		case <-f.ended:
		case err := <-failed:
			return fmt.Errorf("floor: queue: %w", err)
		case <-deadline:
			return errors.New("floor: jobs did not end within 5 minutes")
		}
	}
	return nil
}

func p50(ds []time.Duration) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return job.Millis(s[len(s)/2])
}

// putSegment stores ended records as one segment, as the supervisor's
// archive does: one BestSpeed gzip member per record's JSON line, from one
// reused writer, one PUT.
func (f *floor) putSegment(ctx context.Context, recs []job.Record, from, to uint64) error {
	body := &f.segment
	body.Reset()
	for _, rec := range recs {
		line, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		f.zw.Reset(body)
		if _, err := f.zw.Write(append(line, '\n')); err != nil {
			return err
		}
		if err := f.zw.Close(); err != nil {
			return err
		}
	}
	_, err := f.s3.PutObject(ctx, f.bucket, s3layout.ArchiveSegmentKey(from, to), bytes.NewReader(body.Bytes()), int64(body.Len()),
		minio.PutObjectOptions{ContentType: "application/gzip"})
	return err
}
