package worker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"cyberimage/services/gpu-runner/internal/imaging"
	"cyberimage/services/gpu-runner/internal/storage"
	"cyberimage/shared/job"
	"cyberimage/shared/s3layout"
	"cyberimage/shared/tracing"
)

// postAll posts the jobs of one batch side by side: their uploads are
// independent, and one at a time they would outlast the next inference.
func (w *Worker) postAll(ready []*delivery) {
	if len(ready) == 1 {
		w.post(ready[0])
		return
	}
	var wg sync.WaitGroup
	for _, d := range ready {
		wg.Add(1)
		go func() { defer wg.Done(); w.post(d) }()
	}
	wg.Wait()
}

// post finishes a delivery whose images are ready: encode, upload, record
// completed (fenced); end then acks it (finish).
func (w *Worker) post(d *delivery) {
	err := w.upload(d)
	if err == nil {
		err = w.complete(d)
	}
	w.end(d, err)
}

// upload stores the images. When S3 fails it keeps them and tries again
// once S3 answers, for up to UploadPatience, so an outage costs neither the
// inference nor a delivery; past that the error goes to finish (NAK).
func (w *Worker) upload(d *delivery) error {
	deadline := time.Now().Add(w.p.UploadPatience)
	for {
		err := w.uploadOnce(d)
		if err == nil || isPermanent(err) || d.ctx.Err() != nil || time.Now().After(deadline) {
			return err
		}
		d.uploadTry = nextUploadTry(d.uploadTry, err)
		w.emit(d, job.StatusProcessing, d.spec.Steps, d.spec.Steps, "retrying upload: "+err.Error())
		waitCtx, cancel := context.WithDeadline(d.ctx, deadline)
		healthy := w.waitHealthyUntil(waitCtx, d.log, "keeping the images and retrying the upload when it recovers")
		cancel()
		if !healthy {
			return err
		}
	}
}

// nextUploadTry is the try to upload under after try failed with err. A
// try that may have reached a node moves to a fresh key: a node lost
// while writing leaves the object's lock held for a minute or two, and the
// same key would wait on it. One that reached none (its connection was
// refused or never made: a plain outage) keeps its key, so an outage
// leaves no orphan copies behind. Past the last try Existing looks under
// (storage.FoundTries), the last key is kept: a redelivery finds it.
func nextUploadTry(try int, err error) int {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return try
	}
	return min(try+1, storage.FoundTries-1)
}

// uploadOnce encodes and stores the images an earlier try did not store,
// unless an earlier attempt stored them all.
func (w *Worker) uploadOnce(d *delivery) error {
	if d.keys != nil {
		return nil
	}
	if d.stored == nil {
		d.stored = make([]string, len(d.images))
	}
	var encode, upload time.Duration
	for i, img := range d.images {
		if d.stored[i] != "" {
			continue
		}
		t1 := time.Now()
		data, err := w.p.Encoder.EncodeRGB(img.Width, img.Height, img.RGB)
		if err != nil {
			return permanent(err)
		}
		t2 := time.Now()
		key, err := w.p.Images.PutTry(d.ctx, d.work.JobID, i, d.uploadTry, d.spec, data)
		if err != nil {
			return err
		}
		// The thumbnail goes under the image's key: a try that fails on
		// it stores the image again under the next try's key.
		if err := w.putThumb(d, key, i, img); err != nil {
			return err
		}
		d.stored[i] = key
		t3 := time.Now()
		encode += t2.Sub(t1)
		upload += t3.Sub(t2)
		tracing.Stage(d.trace, "encode", t1, t2, attribute.Int("image", i), attribute.Int("bytes", len(data)))
		tracing.Stage(d.trace, "s3.put", t2, t3, attribute.Int("image", i), attribute.String("key", key))
	}
	d.images = nil // the pixels are stored; let them go
	d.keys, d.stored = d.stored, nil
	d.stages.EncodeMS, d.stages.UploadMS = job.Millis(encode), job.Millis(upload)
	return nil
}

// putThumb stores the thumbnail of an image larger than a thumbnail, next
// to it, for galleries; smaller images are their own.
func (w *Worker) putThumb(d *delivery, imageKey string, i int, img imageOut) error {
	if !s3layout.HasThumb(img.Width, img.Height) {
		return nil
	}
	tw, th := s3layout.ThumbSize(img.Width, img.Height)
	data, err := w.p.Encoder.EncodeRGB(tw, th, imaging.Thumbnail(img.Width, img.Height, img.RGB, tw, th))
	if err != nil {
		return permanent(err)
	}
	return w.p.Images.PutThumb(d.ctx, imageKey, d.work.JobID, i, d.spec, data)
}

// complete moves the record to completed, fenced on this delivery: if the
// job was handed to another delivery meanwhile, nothing is written.
func (w *Worker) complete(d *delivery) error {
	mutate := func(r *job.Record) error {
		if err := job.Complete(r, &d.id, d.keys, d.stages, w.p.Clock()); err != nil {
			return errStale
		}
		return nil
	}
	var err error
	if d.rev != 0 {
		// One compare-and-set against the record as our claim wrote it:
		// if anyone changed it since, the revision differs and the record
		// is read again, so the fence is checked on what is really there.
		_, _, err = w.p.Store.UpdateFrom(d.ctx, d.record, d.rev, mutate)
	} else {
		_, err = w.p.Store.Update(d.ctx, d.work.JobID, mutate)
	}
	if err != nil && !errors.Is(err, errStale) {
		return fmt.Errorf("mark completed: %w", err)
	}
	return err
}
