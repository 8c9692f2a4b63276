package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// listKeys are the key=value arguments of `jobs`, as GET /v1/jobs takes
// them, in the order its usage and its next-page hint name them.
var listKeys = []string{"status", "model", "client", "q", "limit", "cursor"}

// listJobs prints one page of jobs, newest first, and how to get the next.
func listJobs(c *client, args []string, out io.Writer) error {
	q, err := queryArgs("jobs", args, listKeys)
	if err != nil {
		return err
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
	if err := c.getJSON(withQuery("/v1/jobs", q), &page); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB ID\tSTATUS\tMODEL\tRUNNER\tATTEMPTS\tCREATED\tCLIENT")
	for _, j := range page.Jobs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", j.JobID, j.Status, j.Model, orDash(j.Runner), j.Attempts,
			j.CreatedAt.Format(time.RFC3339), orDash(j.Client))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if page.NextCursor != "" {
		q.Set("cursor", page.NextCursor)
		var next []string
		for _, k := range listKeys {
			if v := q.Get(k); v != "" {
				next = append(next, k+"="+v)
			}
		}
		fmt.Fprintf(out, "next page: cyberimage jobs %s\n", strings.Join(next, " "))
	}
	return nil
}
