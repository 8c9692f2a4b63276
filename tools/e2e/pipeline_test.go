package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/require"

	"cyberimage/shared/job"
	"cyberimage/shared/s3layout"
	"cyberimage/shared/statusapi"
)

// TestPipelineEndToEnd publishes 20 requests (valid ones of mixed sizes as
// `nats pub` would, a duplicated request_id, invalid ones by request-reply)
// through real ingest, two runners and the supervisor.
func TestPipelineEndToEnd(t *testing.T) {
	s := newStack(t)
	s.startAll("runner-a")
	s.startRunner("runner-b")

	type want struct{ w, h, n int }
	valid := map[string]want{} // prompt → size
	sizes := []want{{64, 64, 1}, {128, 96, 1}, {256, 256, 2}, {512, 512, 1}, {72, 200, 1}, {320, 64, 3}}
	for i := range 12 {
		sz := sizes[i%len(sizes)]
		prompt := fmt.Sprintf("e2e prompt %d", i)
		valid[prompt] = sz
		publish(t, s.nc, fmtReq(prompt, sz.w, sz.h, sz.n, ""))
	}
	// Same seed and prompt twice: byte-identical pictures expected.
	publish(t, s.nc, fmtReq("same seed", 128, 128, 1, `,"seed":424242,"request_id":"twin-a"`))
	publish(t, s.nc, fmtReq("same seed", 128, 128, 1, `,"seed":424242,"request_id":"twin-b"`))
	// One request_id twice: one job.
	publish(t, s.nc, fmtReq("dup", 64, 64, 1, `,"request_id":"dup-1"`))
	publish(t, s.nc, fmtReq("dup", 64, 64, 1, `,"request_id":"dup-1"`))

	// Invalid requests, answered with stable codes.
	invalid := map[string]job.Code{
		`{"prompt":"bad width","width":100}`:                            "width_not_multiple_of_8",
		`{"prompt":"who","model":"no-such-model","request_id":"r-bad"}`: "unknown_model",
		`{"prompt":`:                    "invalid_json",
		`{"prompt":"p","colour":"red"}`: "unknown_field",
	}
	for payload, code := range invalid {
		r := request(t, s.client, payload)
		require.NotNil(t, r.Error, payload)
		require.Equal(t, code, r.Error.Code, payload)
		require.NotEmpty(t, r.Error.Message)
	}
	ok := request(t, s.client, fmtReq("by request", 64, 128, 1, ""))
	require.Equal(t, job.StatusQueued, ok.Status)
	require.NotEmpty(t, ok.JobID)

	// 12 + 2 twins + 1 dup + 1 by request = 16 jobs, and one rejection
	// recorded under its request_id.
	recs := s.waitEnded(17, 3*time.Minute)
	require.Len(t, recs, 17)
	ctx := context.Background()
	byPrompt := map[string][]job.Record{}
	for id, rec := range recs {
		if rec.Status == job.StatusRejected {
			require.Equal(t, job.IDForRequestID("r-bad"), id)
			require.Equal(t, job.CodeUnknownModel, rec.Error.Code)
			continue
		}
		require.Equal(t, job.StatusCompleted, rec.Status, "job %s: %+v", id, rec.Error)
		require.Equal(t, 1, s.completions.of(id), "job %s written as completed exactly once", id)
		require.Equal(t, 1, rec.Attempts)
		require.Contains(t, []string{"runner-a", "runner-b"}, rec.Runner)
		require.NotNil(t, rec.StartedAt)
		require.NotNil(t, rec.CompletedAt)
		require.Greater(t, rec.Stages.InferenceMS, 0.0)
		byPrompt[rec.Spec.Prompt] = append(byPrompt[rec.Spec.Prompt], rec)
		checkImages(t, s, rec)
	}
	for prompt, sz := range valid {
		require.Len(t, byPrompt[prompt], 1, prompt)
		rec := byPrompt[prompt][0]
		require.Equal(t, []int{sz.w, sz.h, sz.n}, []int{rec.Spec.Width, rec.Spec.Height, rec.Spec.NumImages})
	}
	require.Len(t, byPrompt["dup"], 1, "a duplicated request_id makes one job")
	require.Len(t, byPrompt["same seed"], 2)
	a := download(t, s, byPrompt["same seed"][0].Images[0])
	b := download(t, s, byPrompt["same seed"][1].Images[0])
	require.True(t, bytes.Equal(a, b), "same seed and prompt must give byte-identical PNGs")
	require.False(t, bytes.Equal(a, download(t, s, byPrompt["e2e prompt 0"][0].Images[0])))

	require.Zero(t, s.jobsInStream(), "the jobs stream is empty once every job is acked")

	// The supervisor agrees with KV.
	for id, rec := range recs {
		var got struct {
			job.Record
			ImageURLs []struct{ Key, URL string } `json:"image_urls"`
		}
		require.Equal(t, http.StatusOK, s.getJSON("/v1/jobs/"+id, &got))
		require.Equal(t, rec.Status, got.Status)
		require.Equal(t, rec.Images, got.Images)
		require.Len(t, got.ImageURLs, len(rec.Images))
		for _, link := range got.ImageURLs {
			resp, err := http.Get(link.URL)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode, "presigned URL of %s", link.Key)
			require.Equal(t, download(t, s, link.Key), body)
		}
	}
	require.Equal(t, http.StatusNotFound, s.getJSON("/v1/jobs/NOSUCHJOB", nil))
	require.Eventually(t, func() bool {
		var q map[string]int
		s.getJSON("/api/queue", &q)
		return q["completed"] == 16 && q["pending"] == 0 && q["processing"] == 0 && q["failed"] == 0 && q["total"] == 16
	}, 10*time.Second, 100*time.Millisecond, "/api/queue agrees with KV")
	var st statusapi.Status
	require.Equal(t, http.StatusOK, s.getJSON("/status", &st))
	require.Zero(t, st.Queue.Pending)
	require.Zero(t, st.Queue.InProgress)
	require.Len(t, st.Runners, 2)
	for _, r := range st.Runners {
		require.Equal(t, "cpu", r.Device, "no GPU here: the runners say they run on the CPU")
	}
	var models struct {
		Default string `json:"default"`
		Models  []struct {
			Name    string   `json:"name"`
			Default bool     `json:"default"`
			Runners []string `json:"runners"`
		} `json:"models"`
	}
	require.Equal(t, http.StatusOK, s.getJSON("/v1/models", &models))
	require.Equal(t, "demo", models.Default)
	found := false
	for _, m := range models.Models {
		if m.Name == "demo" {
			found = true
			require.True(t, m.Default)
			require.Equal(t, []string{"runner-a", "runner-b"}, m.Runners)
		}
	}
	require.True(t, found, "/v1/models lists the demo model")
	_ = ctx
}

// checkImages: every image exists, decodes as a PNG of the requested size
// and carries its metadata.
func checkImages(t *testing.T, s *stack, rec job.Record) {
	t.Helper()
	require.Len(t, rec.Images, rec.Spec.NumImages)
	for i, key := range rec.Images {
		// The first try's key, or a retried upload's (s3layout.ImageKeyAt).
		owner, index, err := s3layout.ParseImageKey(key)
		require.NoError(t, err, key)
		require.Equal(t, []any{rec.JobID, i}, []any{owner, index}, key)
		info, err := s.s3.StatObject(context.Background(), s.minio.Config.Bucket, key, minio.StatObjectOptions{})
		require.NoError(t, err, key)
		require.Equal(t, rec.JobID, info.UserMetadata["Job-Id"])
		require.Equal(t, strconv.FormatInt(rec.Spec.Seed, 10), info.UserMetadata["Seed"])
		require.Equal(t, fmt.Sprintf("%dx%d", rec.Spec.Width, rec.Spec.Height), info.UserMetadata["Size"])
		require.Equal(t, rec.Spec.Model, info.UserMetadata["Model"])
		require.Equal(t, strconv.Itoa(rec.Spec.Steps), info.UserMetadata["Steps"])
		require.True(t, strings.HasPrefix(rec.Spec.Prompt, info.UserMetadata["Prompt"]))
		img, err := png.Decode(bytes.NewReader(download(t, s, key)))
		require.NoError(t, err, key)
		require.Equal(t, rec.Spec.Width, img.Bounds().Dx(), key)
		require.Equal(t, rec.Spec.Height, img.Bounds().Dy(), key)
		if s3layout.HasThumb(rec.Spec.Width, rec.Spec.Height) {
			thumb, err := png.Decode(bytes.NewReader(download(t, s, s3layout.ThumbKeyOf(key))))
			require.NoError(t, err, key)
			tw, th := s3layout.ThumbSize(rec.Spec.Width, rec.Spec.Height)
			require.Equal(t, tw, thumb.Bounds().Dx(), key)
			require.Equal(t, th, thumb.Bounds().Dy(), key)
		}
	}
}

func download(t *testing.T, s *stack, key string) []byte {
	t.Helper()
	obj, err := s.s3.GetObject(context.Background(), s.minio.Config.Bucket, key, minio.GetObjectOptions{})
	require.NoError(t, err)
	defer obj.Close()
	data, err := io.ReadAll(obj)
	require.NoError(t, err, key)
	return data
}
