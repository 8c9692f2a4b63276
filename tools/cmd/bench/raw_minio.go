package main

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"

	"cyberimage/shared/job"
	"cyberimage/shared/objectstore"
	"cyberimage/shared/s3layout"
)

// minioResult is MinIO alone: PUTs of the pipeline's PNG, with the
// runner's content type and metadata, at the runners' concurrency.
type minioResult struct {
	Puts        int     `json:"puts"`
	Concurrency int     `json:"concurrency"`
	PNGBytes    int     `json:"png_bytes"`
	Seconds     float64 `json:"seconds"`
	PutsPerSec  float64 `json:"puts_per_sec"`
	Put         dist    `json:"put"`
	// StatMiss is a HEAD of a missing object, one at a time: what the
	// runner's "images already stored?" check costs on a first delivery.
	StatMiss dist `json:"stat_miss"`
}

const rawBucket = "bench-raw"

// rawMinIO PUTs the PNG puts times from concurrency workers, then times
// stats HEADs of missing objects one at a time. tag keeps the keys of two
// measurements apart, so neither overwrites the other's objects.
func rawMinIO(ctx context.Context, cfg objectstore.Config, png []byte, spec job.Spec, tag string, puts, concurrency, stats int, say func(string, ...any)) (minioResult, error) {
	res := minioResult{Puts: puts, Concurrency: concurrency, PNGBytes: len(png)}
	cfg.Bucket = rawBucket
	client, err := objectstore.Connect(ctx, cfg)
	if err != nil {
		return res, err
	}
	put := func(key string) (time.Duration, error) {
		t0 := time.Now()
		_, err := client.PutObject(ctx, rawBucket, key, bytes.NewReader(png), int64(len(png)), minio.PutObjectOptions{
			ContentType: "image/png", UserMetadata: imageMetadata(key, spec),
		})
		return time.Since(t0), err
	}
	// Warm the connection pool and MinIO itself: a fresh server spends
	// more CPU per PUT over its first thousand or so (its heap and buffer
	// pools grow), which would understate this limit.
	for i := range warmupPuts(puts, concurrency) {
		if _, err := put(s3layout.ImageKey(tag+"-warmup-"+strconv.Itoa(i), 0)); err != nil {
			return res, fmt.Errorf("put: %w", err)
		}
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	lat := make([][]float64, concurrency)
	errs := make(chan error, concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(puts) || wctx.Err() != nil {
					return
				}
				d, err := put(s3layout.ImageKey(fmt.Sprintf("%s-%06d", tag, i), 0))
				if err != nil {
					errs <- fmt.Errorf("put: %w", err)
					cancel()
					return
				}
				lat[w] = append(lat[w], job.Millis(d))
			}
		}()
	}
	err = waitWorkers(&wg, errs, func() { say("raw minio (%s): %d/%d PUTs", tag, min(next.Load(), int64(puts)), puts) })
	if err != nil {
		return res, err
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	elapsed := time.Since(start)
	var all []float64
	for _, l := range lat {
		all = append(all, l...)
	}
	res.Seconds = round3(elapsed.Seconds())
	res.PutsPerSec = round3(float64(puts) / elapsed.Seconds())
	res.Put = summarize(all)

	miss := make([]float64, 0, stats)
	for i := range stats {
		t0 := time.Now()
		_, err := client.StatObject(ctx, rawBucket, s3layout.ImageKey(fmt.Sprintf("missing-%d", i), 0), minio.StatObjectOptions{})
		if minio.ToErrorResponse(err).Code != "NoSuchKey" {
			return res, fmt.Errorf("stat of a missing object: %v", err)
		}
		miss = append(miss, job.Millis(time.Since(t0)))
	}
	res.StatMiss = summarize(miss)
	return res, nil
}

// imageMetadata mirrors the runner's object metadata (its storage package
// is internal to the runner), so the PUTs carry the same headers.
func imageMetadata(key string, spec job.Spec) map[string]string {
	return map[string]string{
		s3layout.MetaJobID:  key,
		s3layout.MetaIndex:  "0",
		s3layout.MetaModel:  spec.Model,
		s3layout.MetaSeed:   strconv.FormatInt(spec.Seed, 10),
		s3layout.MetaSteps:  strconv.Itoa(spec.Steps),
		s3layout.MetaSize:   fmt.Sprintf("%dx%d", spec.Width, spec.Height),
		s3layout.MetaPrompt: s3layout.TruncateForMetadata(spec.Prompt, s3layout.MaxPromptMetaBytes),
	}
}

// warmupPuts is the untimed PUTs before a measurement of puts.
func warmupPuts(puts, concurrency int) int { return max(2*concurrency, puts/4) }
