package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/job"
)

// TestHTTPSubmit: POST /v1/jobs answers as NATS requesters are answered
// (202 with the job id; 4xx with the same error code for every invalid
// request), a resend with the same request_id is the same job, and the
// original app's POST /api/generate and GET /api/status/{id} work in its
// shapes.
func TestHTTPSubmit(t *testing.T) {
	s := newStack(t)
	s.startAll("runner-1")

	invalid := []string{
		`{"prompt":"bad width","width":100}`,
		`{"prompt":"tall","height":4096}`,
		`{"prompt":"","request_id":"empty-prompt"}`,
		`{"prompt":"p","model":"no-such-model"}`,
		`{"prompt":"p","colour":"red"}`,
		`{"prompt":"p","steps":"many"}`,
		`{"prompt":"p","num_images":9}`,
		`{"prompt":"p","guidance":99}`,
		`[1,2,3]`,
		`{"prompt":`,
		`{"prompt":"p","request_id":"` + strings.Repeat("x", 200) + `"}`,
	}
	for _, payload := range invalid {
		viaNATS := request(t, s.client, payload)
		require.NotNil(t, viaNATS.Error, payload)
		code, body := postJSON(t, s.url("/v1/jobs"), payload)
		require.Equal(t, http.StatusBadRequest, code, payload)
		errBody := body["error"].(map[string]any)
		require.Equal(t, string(viaNATS.Error.Code), errBody["code"], payload)
		require.Equal(t, "rejected", body["status"], payload)
	}
	code, body := postJSON(t, s.url("/v1/jobs"), `{"prompt":"`+strings.Repeat("p", job.MaxRequestBytes)+`"}`)
	require.Equal(t, http.StatusRequestEntityTooLarge, code)
	require.Equal(t, "too_large", body["error"].(map[string]any)["code"])
	resp, err := http.Post(s.url("/v1/jobs"), "application/x-www-form-urlencoded", strings.NewReader("prompt=p"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode, "a form post cannot submit")

	code, body = postJSON(t, s.url("/v1/jobs"), fmtReq("over http", 64, 64, 1, ""))
	require.Equal(t, http.StatusAccepted, code, body)
	id := body["job_id"].(string)
	requestID := body["request_id"].(string)
	require.Equal(t, job.IDForRequestID(requestID), id, "the job is known by the request_id the API gave it")
	waitCompleted(t, s, id, time.Minute)
	code, again := postJSON(t, s.url("/v1/jobs"), fmtReq("over http", 64, 64, 1, `,"request_id":"`+requestID+`"`))
	require.Equal(t, http.StatusAccepted, code)
	require.Equal(t, id, again["job_id"])
	require.Equal(t, true, again["duplicate"])

	// The original app's API.
	code, gen := postJSON(t, s.url("/api/generate"), `{"model_id":"demo","prompt":"legacy client","negative_prompt":"blur",
		"settings":{"num_images":2,"num_inference_steps":2,"guidance_scale":3.5,"height":64,"width":128,"seed":7}}`)
	require.Equal(t, http.StatusOK, code, gen)
	require.Equal(t, "pending", gen["status"])
	require.EqualValues(t, 2, gen["num_images"])
	legacyID := gen["job_id"].(string)
	rec := waitCompleted(t, s, legacyID, time.Minute)
	require.Equal(t, job.Spec{Prompt: "legacy client", NegativePrompt: "blur", Model: "demo", Width: 128, Height: 64, Steps: 2,
		Guidance: 3.5, Seed: 7, NumImages: 2, RequestID: rec.Spec.RequestID, Priority: job.PriorityNormal}, rec.Spec)
	var status map[string]any
	require.Equal(t, http.StatusOK, s.getJSON("/api/status/"+legacyID, &status))
	require.Equal(t, "completed", status["status"])
	require.Equal(t, "demo", status["model_id"])
	require.Equal(t, "legacy client", status["prompt"])
	require.EqualValues(t, 2, status["settings"].(map[string]any)["num_inference_steps"])
	require.Len(t, status["images"], 2)
	require.NotEmpty(t, status["images"].([]any)[0].(map[string]any)["file_path"])
	code, bad := postJSON(t, s.url("/api/generate"), `{"model_id":"demo","prompt":"p","settings":{"width":100}}`)
	require.Equal(t, http.StatusBadRequest, code)
	require.Equal(t, "error", bad["status"])
	require.NotEmpty(t, bad["message"])
	require.Equal(t, http.StatusNotFound, s.getJSON("/api/status/NOPE", &status))
}
