package api

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"cyberimage/services/supervisor/internal/index"
	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

// Page sizes of GET /v1/jobs.
const (
	defaultPageSize = 50
	maxPageSize     = 500
)

// pageSize reads ?limit= (defaultPageSize when absent), answering 400
// itself when it is out of range.
func pageSize(w http.ResponseWriter, r *http.Request) (int, bool) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return defaultPageSize, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxPageSize {
		writeError(w, http.StatusBadRequest, "limit must be 1 to "+strconv.Itoa(maxPageSize))
		return 0, false
	}
	return n, true
}

type listedJob struct {
	JobID       string     `json:"job_id"`
	Status      job.Status `json:"status"`
	Model       string     `json:"model"`
	Prompt      string     `json:"prompt"`
	Runner      string     `json:"runner,omitempty"`
	Attempts    int        `json:"attempts"`
	CreatedAt   time.Time  `json:"created_at"`
	StartedAt   *time.Time `json:"started_at,omitempty"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	// Priority is the job's class; records from before priorities read
	// normal, as they were scheduled.
	Priority job.Priority `json:"priority"`
	// Client is who submitted it ("default" for records that name no
	// one).
	Client string `json:"client"`
}

type jobList struct {
	Jobs []listedJob `json:"jobs"`
	// NextCursor fetches the next page; absent on the last.
	NextCursor string `json:"next_cursor,omitempty"`
}

// list serves GET /v1/jobs?status=&model=&client=&q=&limit=&cursor=: jobs
// newest first; q searches the prompts.
func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := index.Filter{Status: job.Status(q.Get("status")), Model: q.Get("model"), Text: q.Get("q"), Client: q.Get("client")}
	if len(f.Text) > 200 {
		writeError(w, http.StatusBadRequest, "q: at most 200 bytes")
		return
	}
	if f.Status != "" && !slices.Contains(job.Statuses(), f.Status) {
		writeError(w, http.StatusBadRequest, "unknown status "+strconv.Quote(string(f.Status)))
		return
	}
	limit, ok := pageSize(w, r)
	if !ok {
		return
	}
	after, err := index.ParseCursor(q.Get("cursor"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid cursor: pass back a next_cursor as given")
		return
	}
	page, next, err := s.listJobs(r.Context(), f, after, limit)
	switch {
	case errors.Is(err, errScansBusy):
		w.Header().Set("Retry-After", "2")
		writeErrorCode(w, http.StatusTooManyRequests, "too_many_scans", err.Error())
		return
	case errors.Is(err, errScanTimeout):
		writeErrorCode(w, http.StatusServiceUnavailable, "scan_timeout", err.Error())
		return
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "listing jobs: "+err.Error())
		return
	}
	out := jobList{Jobs: make([]listedJob, len(page))}
	for i, e := range page {
		out.Jobs[i] = listedJob{JobID: e.JobID, Status: e.Status, Model: e.Model, Prompt: e.Prompt, Runner: e.Runner, Attempts: e.Attempts,
			Priority: e.Priority.Class(), Client: bus.RecordClient(e.Client), CreatedAt: e.CreatedAt, StartedAt: e.StartedAt, CompletedAt: e.CompletedAt}
	}
	if next != nil {
		out.NextCursor = next.String()
	}
	writeJSON(w, http.StatusOK, out)
}
