package main

import (
	"io"
	"net/http"
)

// showJob prints a job record with its image URLs.
func showJob(c *client, id string, out io.Writer) error {
	code, body, err := c.do(http.MethodGet, jobPath(id))
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return apiError(code, body)
	}
	return printJSON(out, body)
}

// retryJob re-queues a failed job; the supervisor refuses any other (409)
// and unknown ids (404).
func retryJob(c *client, id string, out io.Writer) error {
	code, body, err := c.do(http.MethodPost, jobPath(id)+"/retry")
	if err != nil {
		return err
	}
	if code != http.StatusAccepted {
		return apiError(code, body)
	}
	return printJSON(out, body)
}

// cancelJob cancels a queued or running job; the supervisor refuses ended
// jobs (409) and unknown ids (404).
func cancelJob(c *client, id string, out io.Writer) error {
	code, body, err := c.do(http.MethodPost, jobPath(id)+"/cancel")
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return apiError(code, body)
	}
	return printJSON(out, body)
}

// showQueue prints the original app's detailed queue counts.
func showQueue(c *client, out io.Writer) error {
	code, body, err := c.do(http.MethodGet, "/api/queue?detailed=true")
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return apiError(code, body)
	}
	return printJSON(out, body)
}
