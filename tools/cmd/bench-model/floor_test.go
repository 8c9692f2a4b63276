package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"cyberimage/shared/testenv"
	"cyberimage/tools/internal/benchmodel"
)

// The floor is only worth its figures if it really makes the design's
// messages and objects: run each part against a real NATS server and MinIO
// and count what reached them.
func TestFloorMakesTheDesignsMessagesAndObjects(t *testing.T) {
	nats := testenv.StartNATS(t)
	t.Setenv("CYBERIMAGE_NATS_URL", nats.URL())
	store, o := demoWork(t)
	client := store.Client(t)

	// Messages per job the server counts (in + out) for each part, from the
	// table of what each message pays for (docs/benchmarks.md, stop 20): 5, 11
	// and 22. The ranges allow above for the set-up's API calls and idle
	// slots' expiring pulls (about 1.5 per job at this size), not below: a
	// part that skipped one round trip would fall under.
	cases := []struct {
		upto             floorPart
		minMsgs, maxMsgs float64
		archived         bool
	}{
		{partQueue, 4.5, 8, false},
		{partRecord, 10.5, 14, false},
		{partArchive, 21.5, 25.5, true},
	}
	const jobs, paced = 16, 4
	for _, c := range cases {
		t.Run(benchmodel.FloorParts[c.upto], func(t *testing.T) {
			pngs0, records0 := countObjects(t, client, store.Config.Bucket)
			v0, err := nats.Server.Varz(nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := runFloor(o, floorOptions{jobs: jobs, paced: paced, workers: 2, replicas: 1, upto: c.upto})
			if err != nil {
				t.Fatalf("floor: %v", err)
			}
			v1, err := nats.Server.Varz(nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Jobs != jobs || res.Paced != paced || res.Upto != benchmodel.FloorParts[c.upto] {
				t.Fatalf("result %+v: want %d jobs, %d paced, up to %s", res, jobs, paced, benchmodel.FloorParts[c.upto])
			}
			if res.InferenceP50MS <= 0 || res.EncodeP50MS <= 0 || res.UploadP50MS <= 0 || res.E2EP50MS < res.InferenceP50MS+res.UploadP50MS {
				t.Errorf("paced timings %+v: each stage timed, e2e must hold inference and upload", res)
			}
			msgs := float64(v1.InMsgs-v0.InMsgs+v1.OutMsgs-v0.OutMsgs) / (jobs + paced)
			if msgs < c.minMsgs || msgs > c.maxMsgs {
				t.Errorf("%.1f NATS messages per job, want %.1f-%.1f", msgs, c.minMsgs, c.maxMsgs)
			}
			t.Logf("%.1f NATS messages per job; %s", msgs, res.Describe())
			pngs, records := countObjects(t, client, store.Config.Bucket)
			if got := pngs - pngs0; got != jobs+paced {
				t.Errorf("%d PNGs stored, want one per job (%d)", got, jobs+paced)
			}
			want := 0
			if c.archived {
				want = jobs + paced
			}
			// The archive runs behind the jobs' ends, as the supervisor's
			// does; runFloor's close waits for it.
			if got := records - records0; got != want {
				t.Errorf("%d records archived in segments, want %d", got, want)
			}
		})
	}
}

// demoWork starts MinIO and points bench-model's S3 settings at it, and
// returns the options of a job's work with the demo model at 64×64.
func demoWork(t *testing.T) (*testenv.MinIO, options) {
	t.Helper()
	store := testenv.StartMinIO(t)
	t.Setenv("CYBERIMAGE_S3_ENDPOINT", store.Config.Endpoint)
	t.Setenv("CYBERIMAGE_S3_BUCKET", store.Config.Bucket)
	t.Setenv("CYBERIMAGE_S3_ACCESS_KEY", store.Config.AccessKey)
	t.Setenv("CYBERIMAGE_S3_SECRET_KEY", store.Config.SecretKey)
	return store, options{size: 64, steps: 1, ortLib: testenv.ORTLibrary(t),
		model: filepath.Join(testenv.RepoRoot(t), "infra", "models", "demo", "model.onnx")}
}

func countObjects(t *testing.T, client *minio.Client, bucket string) (pngs, records int) {
	t.Helper()
	for obj := range client.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Prefix: "images/", Recursive: true}) {
		if obj.Err != nil {
			t.Fatalf("list: %v", obj.Err)
		}
		switch {
		case strings.HasSuffix(obj.Key, ".png"):
			pngs++
		}
	}
	// Archived records: the lines of every segment.
	for obj := range client.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Prefix: "archive/segments/", Recursive: true}) {
		if obj.Err != nil {
			t.Fatalf("list: %v", obj.Err)
		}
		records += segmentLines(t, client, bucket, obj.Key)
	}
	return pngs, records
}

// segmentLines counts the records of one archive segment (gzip members of
// one JSON line each, read as one stream, as `gunzip` does).
func segmentLines(t *testing.T, client *minio.Client, bucket, key string) int {
	t.Helper()
	obj, err := client.GetObject(context.Background(), bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer obj.Close()
	zr, err := gzip.NewReader(obj)
	if err != nil {
		t.Fatalf("gunzip %s: %v", key, err)
	}
	body, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return bytes.Count(body, []byte("\n"))
}
