package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/tracing"
)

// The original app's HTTP API, kept for its clients: POST /api/generate
// and GET /api/status/{id}, in its shapes, on top of the pipeline's own
// (docs/api.md, the rows of these two routes, has the field map).

// generateRequest is the original app's request.
type generateRequest struct {
	ModelID        string `json:"model_id"`
	Prompt         string `json:"prompt"`
	NegativePrompt string `json:"negative_prompt,omitempty"`
	Settings       struct {
		NumImages         *int     `json:"num_images,omitempty"`
		NumInferenceSteps *int     `json:"num_inference_steps,omitempty"`
		GuidanceScale     *float64 `json:"guidance_scale,omitempty"`
		Height            *int     `json:"height,omitempty"`
		Width             *int     `json:"width,omitempty"`
		Seed              *int64   `json:"seed,omitempty"`
	} `json:"settings"`
	RequestID string `json:"request_id,omitempty"`
	// The pipeline's own scheduling fields, which the original app had
	// not: optional, passed to the request as they are (ingest validates).
	Priority    job.Priority `json:"priority,omitempty"`
	Deadline    string       `json:"deadline,omitempty"`
	ExpiresIn   *int         `json:"expires_in,omitempty"`
	CallbackURL string       `json:"callback_url,omitempty"`
}

// generate serves POST /api/generate: the request mapped onto the
// pipeline's and submitted as POST /v1/jobs does.
func (s *Server) generate(w http.ResponseWriter, r *http.Request, from sender) {
	body, requestID, ok := s.readRequest(w, r)
	if !ok {
		return
	}
	var old generateRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&old); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"status": "error", "message": "invalid request: " + err.Error()})
		return
	}
	if old.ModelID == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"status": "error", "message": "model_id is required"})
		return
	}
	req := job.Request{Prompt: old.Prompt, NegativePrompt: old.NegativePrompt, Model: old.ModelID,
		Width: old.Settings.Width, Height: old.Settings.Height, Steps: old.Settings.NumInferenceSteps,
		Guidance: old.Settings.GuidanceScale, Seed: old.Settings.Seed, NumImages: old.Settings.NumImages,
		// readRequest gave the body a request_id when it had none.
		RequestID: requestID,
		Priority:  old.Priority, Deadline: old.Deadline, ExpiresIn: old.ExpiresIn, CallbackURL: old.CallbackURL}
	reply, status := s.publishRequest(tracing.ExtractHTTP(r.Context(), r.Header), from, job.EncodeRequest(req), req.RequestID)
	if reply.Error != nil {
		writeRefusal(w, status, reply, true)
		return
	}
	numImages := 1
	if req.NumImages != nil {
		numImages = *req.NumImages
	}
	writeJSON(w, http.StatusOK, map[string]any{"job_id": reply.JobID, "status": "pending", "num_images": numImages,
		"message": "job queued", "request_id": req.RequestID})
}

// legacyStatus maps the pipeline's statuses onto the original app's four
// (it had no cancel and no rejection).
func legacyStatus(s job.Status) string {
	switch s {
	case job.StatusQueued:
		return "pending"
	case job.StatusRejected, job.StatusCancelled:
		return "failed"
	default:
		return string(s)
	}
}

type legacyImage struct {
	ID       string `json:"id"`
	FilePath string `json:"file_path"`
	URL      string `json:"url,omitempty"`
}

// legacyJob is GET /api/status/{id}'s answer.
type legacyJob struct {
	ID             string         `json:"id"`
	Status         string         `json:"status"`
	ModelID        string         `json:"model_id"`
	Prompt         string         `json:"prompt"`
	NegativePrompt string         `json:"negative_prompt"`
	Settings       map[string]any `json:"settings"`
	CreatedAt      time.Time      `json:"created_at"`
	StartedAt      *time.Time     `json:"started_at"`
	CompletedAt    *time.Time     `json:"completed_at"`
	Message        string         `json:"message"`
	Progress       map[string]any `json:"progress,omitempty"`
	Images         []legacyImage  `json:"images"`
	// Pipeline is the status in the pipeline's own terms (cancelled and
	// rejected read as failed above).
	Pipeline job.Status `json:"pipeline_status"`
}

// legacyJobStatus serves GET /api/status/{id}.
func (s *Server) legacyJobStatus(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	rec, _, err := s.findJob(r.Context(), id)
	if errors.Is(err, jobstore.ErrNotFound) {
		writeJSON(w, http.StatusNotFound, map[string]string{"status": "error", "message": "job not found"})
		return
	}
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "error", "message": err.Error()})
		return
	}
	out := legacyJob{ID: rec.JobID, Status: legacyStatus(rec.Status), ModelID: rec.Spec.Model, Prompt: rec.Spec.Prompt,
		NegativePrompt: rec.Spec.NegativePrompt, CreatedAt: rec.CreatedAt, StartedAt: rec.StartedAt, CompletedAt: rec.CompletedAt,
		Pipeline: rec.Status, Images: []legacyImage{},
		Settings: map[string]any{"num_images": rec.Spec.NumImages, "num_inference_steps": rec.Spec.Steps,
			"guidance_scale": rec.Spec.Guidance, "height": rec.Spec.Height, "width": rec.Spec.Width, "seed": rec.Spec.Seed}}
	if rec.Error != nil {
		out.Message = rec.Error.Message
	}
	if p, ok := s.p.Tracker.Progress(id); ok && rec.Status == job.StatusProcessing {
		out.Progress = map[string]any{"step": p.Step, "total_steps": p.TotalSteps}
	}
	for _, link := range s.imageLinks(r.Context(), rec) {
		out.Images = append(out.Images, legacyImage{ID: link.Key, FilePath: link.Key, URL: link.URL})
	}
	writeJSON(w, http.StatusOK, out)
}
