package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/s3layout"
)

// busEnv is an embedded JetStream server provisioned as make run does.
type busEnv struct {
	ns          *server.Server
	nc          *nats.Conn
	js          jetstream.JetStream
	url         string
	recordBytes int
}

func startBus(ctx context.Context, dir string, models []string) (*busEnv, error) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true,
		StoreDir: filepath.Join(dir, "nats"), NoLog: true, NoSigs: true, JetStreamMaxStore: 8 << 30})
	if err != nil {
		return nil, err
	}
	go ns.Start()
	if !ns.ReadyForConnections(15 * time.Second) {
		return nil, errors.New("nats: not ready")
	}
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return nil, err
	}
	if err := bus.Ensure(ctx, js, bus.DefaultSettings(), models...); err != nil {
		return nil, err
	}
	return &busEnv{ns: ns, nc: nc, js: js, url: ns.ClientURL()}, nil
}

func (e *busEnv) close() {
	e.nc.Close()
	e.ns.Shutdown()
	e.ns.WaitForShutdown()
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
		if _, err := e.js.PublishAsync(bus.RecordSubject(rec.JobID), data); err != nil {
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
	switch {
	case i%50 == 7:
		rec.Status, rec.Images = job.StatusFailed, nil
		rec.Error = &job.Failure{Code: "runner_lost", Message: "the runner stopped answering during generation; out of deliveries"}
	case i%100 == 13:
		rec.Status, rec.Images, rec.StartedAt, rec.CompletedAt, rec.Attempts, rec.Runner = job.StatusRejected, nil, nil, nil, 0, ""
		rec.Error = &job.Failure{Code: job.CodeWidthNotMultipleOf8, Message: "width must be a multiple of 8"}
	case i%200 == 21:
		rec.Status, rec.Images = job.StatusCancelled, nil
	}
	return rec
}
