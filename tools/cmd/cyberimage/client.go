package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"cyberimage/tools/internal/supervisorurl"
)

// client calls the supervisor.
type client struct {
	base  string
	hc    *http.Client
	token string // admin token, sent when set
}

func newClient(base string) (*client, error) {
	b, err := supervisorurl.Parse(base)
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

// fetch sends a request and returns the body of an answer with one of
// the codes wanted; any other answer is the supervisor's error.
func (c *client) fetch(method, path string, want ...int) ([]byte, error) {
	code, body, err := c.do(method, path)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(want, code) {
		return nil, apiError(code, body)
	}
	return body, nil
}

// show sends a request and prints the answer's JSON: the output of the
// commands whose answer is the supervisor's own.
func (c *client) show(out io.Writer, method, path string, want ...int) error {
	body, err := c.fetch(method, path, want...)
	if err != nil {
		return err
	}
	return printJSON(out, body)
}

// getJSON reads GET path, answered 200, into v.
func (c *client) getJSON(path string, v any) error {
	body, err := c.fetch(http.MethodGet, path, http.StatusOK)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
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

// queryArgs reads a command's key=value arguments into a query; keys are
// the ones it takes, in the order its usage names them.
func queryArgs(cmd string, args, keys []string) (url.Values, error) {
	q := url.Values{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || !slices.Contains(keys, k) || v == "" {
			return nil, fmt.Errorf("%w: %s takes %s arguments, not %q", errUsage, cmd, keyList(keys), a)
		}
		q.Set(k, v)
	}
	return q, nil
}

// keyList names keys as a usage line does: "a=, b= and c=".
func keyList(keys []string) string {
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k + "="
	}
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// withQuery is path with q, when q has anything.
func withQuery(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

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
