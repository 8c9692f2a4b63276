package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"cyberimage/shared/statusapi"
)

// supervisorClient reads the supervisor's HTTP API.
type supervisorClient struct {
	base string
	hc   *http.Client
}

func newSupervisorClient(base string) *supervisorClient {
	return &supervisorClient{base: base, hc: &http.Client{Timeout: 10 * time.Second}}
}

// queueCounts is the original app's /api/queue reply.
type queueCounts struct {
	Pending    int `json:"pending"`
	Processing int `json:"processing"`
	Completed  int `json:"completed"`
	Failed     int `json:"failed"`
	Rejected   int `json:"rejected"`
	Total      int `json:"total"`
}

// jobView is the part of a /v1/jobs/{id} reply the checks use.
type jobView struct {
	Status    string `json:"status"`
	ImageURLs []struct {
		Key string `json:"key"`
		URL string `json:"url"`
	} `json:"image_urls"`
}

// get fetches path into v when the answer is 200 and returns the status
// code.
func (c *supervisorClient) get(ctx context.Context, path string, v any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return resp.StatusCode, fmt.Errorf("GET %s: decode: %w", path, err)
	}
	return resp.StatusCode, nil
}

func (c *supervisorClient) queue(ctx context.Context) (queueCounts, error) {
	var q queueCounts
	code, err := c.get(ctx, "/api/queue", &q)
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("GET /api/queue: status %d", code)
	}
	return q, err
}

func (c *supervisorClient) runners(ctx context.Context) ([]statusapi.Runner, error) {
	var st statusapi.Status
	code, err := c.get(ctx, "/status", &st)
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("GET /status: status %d", code)
	}
	return st.Runners, err
}

func (c *supervisorClient) job(ctx context.Context, id string) (jobView, int, error) {
	var v jobView
	code, err := c.get(ctx, "/v1/jobs/"+id, &v)
	return v, code, err
}
