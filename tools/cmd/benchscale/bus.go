package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/natsauth"
	"cyberimage/shared/s3layout"
	"cyberimage/tools/internal/benchstack"
)

// busEnv is an embedded JetStream server trusting a fresh authority,
// provisioned as make run does, and the harness's connection as ingest:
// the role that writes job records, so the records are written as the
// pipeline writes them, with no more rights.
type busEnv struct {
	nats        *benchstack.Embedded
	creds       *benchstack.Creds
	nc          *nats.Conn
	js          jetstream.JetStream
	recordBytes int
}

func startBus(ctx context.Context, dir string, models []string) (*busEnv, error) {
	creds, err := benchstack.NewCreds(filepath.Join(dir, "creds"))
	if err != nil {
		return nil, err
	}
	ns, err := benchstack.StartEmbedded(benchstack.EmbeddedOptions{Name: "cyberimage-benchscale", Dir: dir,
		Auth: creds.Auth, MaxStore: 8 << 30})
	if err != nil {
		return nil, err
	}
	e := &busEnv{nats: ns, creds: creds}
	// Provisioned as admin, as a deployment does once; the services only
	// check the layout.
	if err := creds.Provision(ctx, ns.URL(), "benchscale-admin", bus.DefaultSettings(), models...); err != nil {
		e.close()
		return nil, err
	}
	// bus.Connect's JetStream context has the default window of async
	// publishes; writeRecords keeps a wider one in flight.
	if e.nc, _, err = creds.Connect(ns.URL(), natsauth.Ingest, "benchscale-ingest"); err != nil {
		e.close()
		return nil, err
	}
	if e.js, err = jetstream.New(e.nc, jetstream.WithPublishAsyncMaxPending(4096)); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

func (e *busEnv) close() {
	if e.nc != nil {
		e.nc.Close()
	}
	e.nats.Close()
}

// writeRecords stores records from..to-1 as the pipeline leaves them: most
// completed, some failed, rejected and cancelled, as a month of traffic
// would, and checks the bucket holds them all.
func (e *busEnv) writeRecords(ctx context.Context, from, to int) error {
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := from; i < to; i++ {
		rec := sampleRecord(i, base)
		data, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		e.recordBytes = len(data)
		// A shared machine may hold the acks back for longer than the
		// client's default stall wait (200 ms): waiting is not failing.
		if _, err := e.js.PublishAsync(bus.RecordSubject(rec.JobID), data, jetstream.WithStallWait(time.Minute)); err != nil {
			return err
		}
		if i%10000 == 9999 {
			select {
			case <-e.js.PublishAsyncComplete():
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	select {
	case <-e.js.PublishAsyncComplete():
	case <-ctx.Done():
		return ctx.Err()
	}
	st, err := e.js.Stream(ctx, "KV_"+bus.BucketJobs)
	if err != nil {
		return err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return err
	}
	if info.State.Msgs != uint64(to) {
		return fmt.Errorf("bucket holds %d records, want %d", info.State.Msgs, to)
	}
	return nil
}

func sampleID(i int, base time.Time) string {
	return job.NewID(base.Add(time.Duration(i)*time.Second), fmt.Sprintf("bench-%d", i))
}

// sampleStatus is the status record i is written with: about 2% failed,
// 1% rejected, 0.5% cancelled, the rest completed.
func sampleStatus(i int) job.Status {
	switch {
	case i%50 == 7:
		return job.StatusFailed
	case i%100 == 13:
		return job.StatusRejected
	case i%200 == 21:
		return job.StatusCancelled
	}
	return job.StatusCompleted
}

func sampleRecord(i int, base time.Time) job.Record {
	id := sampleID(i, base)
	created := base.Add(time.Duration(i) * time.Second)
	started := created.Add(40 * time.Millisecond)
	done := started.Add(2300 * time.Millisecond)
	rec := job.Record{
		JobID:  id,
		Status: job.StatusCompleted,
		Spec: job.Spec{Prompt: "a lighthouse on a basalt cliff at dusk, volumetric fog, cinematic lighting, highly detailed, 35mm photograph",
			NegativePrompt: "blurry, low quality, watermark", Model: "demo", Width: 512, Height: 512, Steps: 25, Guidance: 7.5,
			Seed: int64(i) * 7919, NumImages: 1},
		Attempts: 1, Runner: fmt.Sprintf("gpu-node-%02d", i%16), Images: []string{s3layout.ImageKey(id, 0)},
		CreatedAt: created, StartedAt: &started, CompletedAt: &done, UpdatedAt: done,
		Stages: job.Stages{QueueWaitMS: 40, InferenceMS: 2100, EncodeMS: 120, UploadMS: 80},
	}
	switch sampleStatus(i) {
	case job.StatusFailed:
		rec.Status, rec.Images = job.StatusFailed, nil
		rec.Error = &job.Failure{Code: "runner_lost", Message: "the runner stopped answering during generation; out of deliveries"}
	case job.StatusRejected:
		rec.Status, rec.Images, rec.StartedAt, rec.CompletedAt, rec.Attempts, rec.Runner = job.StatusRejected, nil, nil, nil, 0, ""
		rec.Error = &job.Failure{Code: job.CodeWidthNotMultipleOf8, Message: "width must be a multiple of 8"}
	case job.StatusCancelled:
		rec.Status, rec.Images = job.StatusCancelled, nil
	}
	return rec
}
