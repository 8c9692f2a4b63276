package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"
)

// listFilters are the key=value arguments of `jobs`, as GET /v1/jobs takes
// them.
var listFilters = map[string]bool{"status": true, "model": true, "client": true, "q": true, "limit": true, "cursor": true}

// listJobs prints one page of jobs, newest first, and how to get the next.
func listJobs(c *client, args []string, out io.Writer) error {
	q := url.Values{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || !listFilters[k] || v == "" {
			return fmt.Errorf("%w: jobs takes status=, model=, client=, q=, limit= and cursor= arguments, not %q", errUsage, a)
		}
		q.Set(k, v)
	}
	path := "/v1/jobs"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	code, body, err := c.do(http.MethodGet, path)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return apiError(code, body)
	}
	var page struct {
		Jobs []struct {
			JobID     string    `json:"job_id"`
			Status    string    `json:"status"`
			Model     string    `json:"model"`
			Runner    string    `json:"runner"`
			Client    string    `json:"client"`
			Attempts  int       `json:"attempts"`
			CreatedAt time.Time `json:"created_at"`
		} `json:"jobs"`
		NextCursor string `json:"next_cursor"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB ID\tSTATUS\tMODEL\tRUNNER\tATTEMPTS\tCREATED\tCLIENT")
	for _, j := range page.Jobs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", j.JobID, j.Status, j.Model, dash(j.Runner), j.Attempts,
			j.CreatedAt.Format(time.RFC3339), dash(j.Client))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if page.NextCursor != "" {
		q.Set("cursor", page.NextCursor)
		var next []string
		for _, k := range []string{"status", "model", "client", "q", "limit", "cursor"} {
			if v := q.Get(k); v != "" {
				next = append(next, k+"="+v)
			}
		}
		fmt.Fprintf(out, "next page: cyberimage jobs %s\n", strings.Join(next, " "))
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
