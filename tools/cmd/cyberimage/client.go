package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// client calls the supervisor.
type client struct {
	base  string
	hc    *http.Client
	token string // admin token, sent when set
}

func newClient(base string) (*client, error) {
	b, err := baseURL(base)
	if err != nil {
		return nil, err
	}
	return &client{base: b, hc: &http.Client{Timeout: 15 * time.Second}}, nil
}

// do sends a request and returns the status code and body.
func (c *client) do(method, path string) (int, []byte, error) {
	req, err := http.NewRequest(method, c.base+path, nil)
	if err != nil {
		return 0, nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return resp.StatusCode, body, nil
}

// apiError is the supervisor's answer to a request it turned down: its
// own message when it gave one.
func apiError(code int, body []byte) error {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
		return fmt.Errorf("%s (HTTP %d)", e.Error.Message, code)
	}
	return fmt.Errorf("HTTP %d: %s", code, bytes.TrimSpace(body))
}

// jobPath is the lookup path of a job id, escaped: an id comes from a
// person's command line.
func jobPath(id string) string { return "/v1/jobs/" + url.PathEscape(id) }

// printJSON prints a JSON body indented, whatever indentation it came with.
func printJSON(out io.Writer, body []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(body), "", "  "); err != nil {
		return fmt.Errorf("supervisor sent invalid JSON: %w", err)
	}
	buf.WriteByte('\n')
	_, err := out.Write(buf.Bytes())
	return err
}
