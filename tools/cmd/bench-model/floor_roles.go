package main

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/services/gpu-runner/benchwork"
	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
)

// floorIngestConcurrency is ingest's default CYBERIMAGE_INGEST_CONCURRENCY.
const floorIngestConcurrency = 32

// start runs the floor's roles that its parts include: the harness's event
// watcher, the supervisor's followers, ingest, and always the runner slots.
func (f *floor) start(ctx context.Context) error {
	if f.has(partEvents) {
		// The harness: a job ends for it when its `completed` event arrives.
		if _, err := f.nc.Subscribe(f.prefix+".events.*", func(m *nats.Msg) {
			var ev bus.ProgressEvent
			if json.Unmarshal(m.Data, &ev) == nil && ev.Status == job.StatusCompleted {
				f.ended <- struct{}{}
			}
		}); err != nil {
			return err
		}
	}
	if f.has(partSupervisor) {
		if err := f.startSupervisor(ctx); err != nil {
			return err
		}
	}
	if f.has(partIntake) {
		if err := f.startIngest(ctx); err != nil {
			return err
		}
	}
	cons, err := f.js.Consumer(ctx, f.jobs, "runners")
	if err != nil {
		return err
	}
	for i := range f.slots {
		f.wg.Add(1)
		go func() { defer f.wg.Done(); f.slot(ctx, cons, i) }()
	}
	return nil
}

// startSupervisor follows what the supervisor follows: every record write
// (decoded), every event and every ack of the work; an ended record goes to
// S3 as job.json.
func (f *floor) startSupervisor(ctx context.Context) error {
	if _, err := f.nc.Subscribe(f.prefix+".events.>", func(m *nats.Msg) {
		var ev bus.ProgressEvent
		_ = json.Unmarshal(m.Data, &ev)
	}); err != nil {
		return err
	}
	if _, err := f.nc.Subscribe("$JS.ACK."+f.jobs+".>", func(m *nats.Msg) {
		_, _ = bus.ParseAckSubject(m.Subject)
	}); err != nil {
		return err
	}
	w, err := f.kv.WatchAll(ctx)
	if err != nil {
		return err
	}
	archive := make(chan ended, 1024)
	f.wg.Add(2)
	go func() {
		defer f.wg.Done()
		defer w.Stop()
		for {
			select {
			case <-f.stopped:
				close(archive)
				return
			case e := <-w.Updates():
				if e == nil || e.Operation() != jetstream.KeyValuePut {
					continue
				}
				var rec job.Record
				if json.Unmarshal(e.Value(), &rec) == nil && rec.Status.Terminal() && f.has(partArchive) {
					archive <- ended{rec: rec, revision: e.Revision()}
				}
			}
		}
	}()
	go func() {
		defer f.wg.Done()
		f.archiveSegments(ctx, archive)
	}()
	return nil
}

// ended is an ended record and the bucket revision that wrote it.
type ended struct {
	rec      job.Record
	revision uint64
}

// archiveSegments writes ended records in segments, as the supervisor's
// archive does: a PUT when 1,000 records wait or a second has passed, and
// what is left once the feed closes.
func (f *floor) archiveSegments(ctx context.Context, feed <-chan ended) {
	const maxRecords, every = 1000, time.Second
	var batch []job.Record
	var from, to uint64
	flush := func() {
		if len(batch) == 0 {
			return
		}
		_ = f.putSegment(ctx, batch, from, to)
		f.archivedRecords.Add(int64(len(batch)))
		batch = batch[:0]
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case e, ok := <-feed:
			if !ok {
				flush()
				return
			}
			if len(batch) == 0 {
				from = e.revision
			}
			batch, to = append(batch, e.rec.Public()), e.revision
			if len(batch) >= maxRecords {
				flush()
			}
		case <-tick.C:
			flush()
		}
	}
}

// startIngest subscribes as ingest does: a core subscription for the
// replies of `nats req`, and the durable consumer, handled at ingest's
// default concurrency.
func (f *floor) startIngest(ctx context.Context) error {
	if _, err := f.nc.Subscribe(f.prefix+".requests", func(m *nats.Msg) {
		_ = m.Reply // ingest pairs a reply inbox with the request here
	}); err != nil {
		return err
	}
	cons, err := f.js.Consumer(ctx, f.requests, "ingest")
	if err != nil {
		return err
	}
	iter, err := cons.Messages(jetstream.PullMaxMessages(floorIngestConcurrency))
	if err != nil {
		return err
	}
	sem := make(chan struct{}, floorIngestConcurrency)
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		<-f.stopped
		iter.Stop()
	}()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			m, err := iter.Next()
			if err != nil {
				return
			}
			sem <- struct{}{}
			go func() { defer func() { <-sem }(); f.admit(ctx, m) }()
		}
	}()
	return nil
}

// admit is ingest's work on one request: decode, queue, ack the request.
func (f *floor) admit(ctx context.Context, m jetstream.Msg) {
	req, meta, ok := parse(m, job.DecodeRequest)
	if !ok {
		return
	}
	spec := job.Spec{Prompt: req.Prompt, Model: req.Model, Width: *req.Width, Height: *req.Height, Steps: *req.Steps,
		Guidance: 7.5, Seed: *req.Seed, NumImages: 1, RequestID: req.RequestID}
	// As ingest: the id comes from the request's place in its stream.
	if err := f.queue(ctx, job.NewID(meta.Timestamp, strconv.FormatUint(meta.Sequence.Stream, 10)), spec); err != nil {
		_ = m.Nak()
		return
	}
	_ = m.Ack()
}

// parse decodes a message and reads its metadata; a message that fails
// either is terminated, as the services do: delivering it again would fail
// again.
func parse[T any](m jetstream.Msg, decode func([]byte) (T, error)) (T, *jetstream.MsgMetadata, bool) {
	v, err := decode(m.Data())
	if err != nil {
		_ = m.Term()
		return v, nil, false
	}
	meta, err := m.Metadata()
	if err != nil {
		_ = m.Term()
		return v, nil, false
	}
	return v, meta, true
}

// queue creates the job's record (with the record part) and publishes its
// work with a deduplication id, waiting for the server's ack of each.
func (f *floor) queue(ctx context.Context, id string, spec job.Spec) error {
	now := time.Now().UTC()
	var rev uint64
	if f.has(partRecord) {
		data, _ := json.Marshal(job.Record{JobID: id, Status: job.StatusQueued, Spec: spec, CreatedAt: now, UpdatedAt: now})
		var err error
		if rev, err = f.kv.Create(ctx, id, data); err != nil {
			return err
		}
	}
	work, _ := json.Marshal(bus.Work{JobID: id, Spec: spec, CreatedAt: now, Revision: rev})
	_, err := f.js.PublishMsg(ctx, &nats.Msg{Subject: f.prefix + ".jobs.demo." + id, Data: work}, jetstream.WithMsgID(id))
	return err
}

// slot is one runner slot: pull one work message when free, claim, run,
// store, end the record, ack, tell.
func (f *floor) slot(ctx context.Context, cons jetstream.Consumer, i int) {
	runner := "floor-runner-" + string(rune('a'+i))
	for {
		select {
		case <-f.stopped:
			return
		default:
		}
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			continue
		}
		for m := range batch.Messages() {
			f.runOne(ctx, m, f.slots[i], runner)
		}
	}
}

func (f *floor) runOne(ctx context.Context, m jetstream.Msg, slot *benchwork.Slot, runner string) {
	work, meta, ok := parse(m, func(data []byte) (w bus.Work, err error) { return w, json.Unmarshal(data, &w) })
	if !ok {
		return
	}
	started := time.Now().UTC()
	rec := work.QueuedRecord()
	rec.Status, rec.Runner, rec.Attempts, rec.StartedAt, rec.UpdatedAt = job.StatusProcessing, runner, 1, &started, started
	rec.Delivery = &job.Delivery{StreamSeq: meta.Sequence.Stream, Delivered: int(meta.NumDelivered), Runner: runner,
		StartedAt: started, AckSubject: m.Reply()}
	var rev uint64
	if f.has(partRecord) {
		data, _ := json.Marshal(rec)
		var err error
		if rev, err = f.kv.Update(ctx, work.JobID, data, work.Revision); err != nil {
			_ = m.Nak()
			return
		}
	}
	t0 := time.Now()
	img, err := slot.Generate(ctx, work.Spec)
	inference := time.Since(t0)
	if err != nil {
		_ = m.Term()
		return
	}
	t1 := time.Now()
	pngData, err := slot.Encode(img)
	encode := time.Since(t1)
	if err != nil {
		_ = m.Term()
		return
	}
	t2 := time.Now()
	key, err := f.images.Put(ctx, work.JobID, 0, work.Spec, pngData)
	upload := time.Since(t2)
	if err != nil {
		_ = m.Nak()
		return
	}
	done := time.Now().UTC()
	rec.Status, rec.Images, rec.CompletedAt, rec.UpdatedAt = job.StatusCompleted, []string{key}, &done, done
	rec.Stages = job.Stages{QueueWaitMS: job.Millis(started.Sub(work.CreatedAt)), InferenceMS: job.Millis(inference),
		EncodeMS: job.Millis(encode), UploadMS: job.Millis(upload), BatchSize: 1}
	rec.FirstRevision, rec.SettledAs = work.Revision, job.StatusCompleted
	if f.has(partRecord) {
		data, _ := json.Marshal(rec)
		if _, err := f.js.PublishMsg(ctx, &nats.Msg{Subject: "$KV." + f.kvBucket + "." + work.JobID, Data: data},
			jetstream.WithExpectLastSequencePerSubject(rev), jetstream.WithMsgTTL(jobstore.DefaultRetention().Record)); err != nil {
			_ = m.Nak()
			return
		}
		if f.has(partArchive) {
			f.endedRecords.Add(1)
		}
	}
	_ = m.Ack()
	if f.has(partEvents) {
		ev, _ := json.Marshal(bus.ProgressEvent{JobID: work.JobID, Status: job.StatusCompleted, Step: work.Spec.Steps,
			TotalSteps: work.Spec.Steps, Runner: runner, Attempt: 1, Delivery: rec.Delivery.Token(), At: done})
		_ = f.nc.Publish(f.prefix+".events."+work.JobID, ev)
	} else {
		f.ended <- struct{}{} // no events: the slot tells the harness in-process
	}
	f.timingsMu.Lock()
	f.inferences = append(f.inferences, inference)
	f.encodes = append(f.encodes, encode)
	f.uploads = append(f.uploads, upload)
	f.timingsMu.Unlock()
}
