package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

// errRejected marks a request ingest refused or a job that did not
// complete (exit 1).
var errRejected = errors.New("rejected")

// submitOptions are submit's flags beyond the request's fields.
type submitOptions struct {
	natsURL, creds, tlsCA string
	// client overrides the identity the request is sent as (its subject);
	// empty: the one the credentials name.
	client  string
	wait    bool
	out     string
	timeout time.Duration
}

// submitJob publishes a request on the client's request subject as any
// NATS client does, prints the job id, and with --wait shows the job's
// progress (its events), then downloads its images.
func submitJob(c *client, args []string, stdout, stderr io.Writer) error {
	req, o, err := parseSubmit(args, stderr)
	if err != nil {
		return err
	}
	subject, err := requestSubject(o)
	if err != nil {
		return err
	}
	nc, err := connectNATS(o)
	if err != nil {
		return err
	}
	defer nc.Close()
	// Subscribed before publishing, so not even the first event is missed.
	id := job.IDForRequestID(req.RequestID)
	events := make(chan *nats.Msg, 256)
	sub, err := nc.ChanSubscribe(bus.EventSubject(id), events)
	if err != nil {
		return err
	}
	defer func() { _ = sub.Unsubscribe() }()
	payload, _ := json.Marshal(req)
	msg, err := nc.Request(subject, payload, 15*time.Second)
	if err != nil {
		return fmt.Errorf("no answer from ingest on %s: %w", subject, err)
	}
	var reply bus.RequestReply
	if err := json.Unmarshal(msg.Data, &reply); err != nil {
		return fmt.Errorf("ingest's answer: %w", err)
	}
	if reply.Error != nil {
		return refusal(subject, reply.Error)
	}
	fmt.Fprintln(stdout, reply.JobID)
	if !o.wait {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	rec, err := waitForJob(ctx, c, reply.JobID, events, stderr)
	if err != nil {
		return err
	}
	if rec.Status != string(job.StatusCompleted) {
		return fmt.Errorf("%w: job %s ended %s: %s", errRejected, reply.JobID, rec.Status, rec.Error.Message)
	}
	return download(c, rec, o.out, stdout)
}

// parseSubmit reads submit's flags: the request to publish (flags not
// given stay absent, for ingest's defaults) and how to send it.
func parseSubmit(args []string, stderr io.Writer) (job.Request, submitOptions, error) {
	fs := flag.NewFlagSet("submit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o submitOptions
	var req job.Request
	var width, height, steps, numImages int
	var guidance float64
	var seed int64
	var expiresIn int
	fs.StringVar(&req.Prompt, "prompt", "", "what to draw (required)")
	fs.StringVar(&req.NegativePrompt, "negative-prompt", "", "what not to draw")
	fs.StringVar(&req.Model, "model", "", "model (default: the pipeline's default model)")
	fs.IntVar(&width, "width", 0, "width in pixels, 64-2048, a multiple of 8 (default: 512)")
	fs.IntVar(&height, "height", 0, "height in pixels (default: 512)")
	fs.IntVar(&steps, "steps", 0, "denoising steps (default: the model's)")
	fs.Float64Var(&guidance, "guidance", 0, "guidance scale (default: the model's)")
	fs.Int64Var(&seed, "seed", 0, "seed (default: derived from the job id, and recorded)")
	fs.IntVar(&numImages, "num-images", 0, "images, 1-8 (default 1)")
	fs.StringVar((*string)(&req.Priority), "priority", "", "queue class: high, normal or low (default normal)")
	fs.StringVar(&req.Deadline, "deadline", "", "RFC 3339 time: a job not started by then is cancelled, never run")
	fs.IntVar(&expiresIn, "expires-in", 0, "seconds: as --deadline, counted from the request (not with --deadline)")
	fs.StringVar(&req.CallbackURL, "callback-url", "", "URL POSTed the job's record when it ends (hosts the operator allows)")
	fs.StringVar(&req.RequestID, "request-id", "", "idempotency key: the same key never makes two jobs (default: a new one)")
	fs.StringVar(&o.natsURL, "nats-url", envOr("CYBERIMAGE_NATS_URL", "nats://127.0.0.1:4222"), "NATS server(s) [CYBERIMAGE_NATS_URL]")
	fs.StringVar(&o.creds, "creds", envOr("CYBERIMAGE_NATS_CREDS", ".data/creds/client.creds"), "NATS credentials file of the client role [CYBERIMAGE_NATS_CREDS]")
	fs.StringVar(&o.client, "client", "", "send as this client, on cyberimage.requests.<client> (\"default\": the bare cyberimage.requests, the shared pool); default: the client the --creds name")
	fs.StringVar(&o.tlsCA, "tls-ca", os.Getenv("CYBERIMAGE_NATS_TLS_CA"), "CA of the NATS servers' certificates [CYBERIMAGE_NATS_TLS_CA]")
	fs.BoolVar(&o.wait, "wait", false, "wait for the job: show its progress, then download its images")
	fs.StringVar(&o.out, "out", ".", "folder for the images (with --wait)")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up waiting after this long (with --wait)")
	if err := fs.Parse(args); err != nil {
		return req, o, fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return req, o, fmt.Errorf("%w: submit takes flags only, not %q", errUsage, fs.Args())
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "width":
			req.Width = &width
		case "height":
			req.Height = &height
		case "steps":
			req.Steps = &steps
		case "guidance":
			req.Guidance = &guidance
		case "seed":
			req.Seed = &seed
		case "num-images":
			req.NumImages = &numImages
		case "expires-in":
			req.ExpiresIn = &expiresIn
		}
	})
	if req.RequestID == "" {
		raw := make([]byte, 12)
		_, _ = rand.Read(raw)
		req.RequestID = "cli-" + hex.EncodeToString(raw)
	}
	return req, o, nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// connectNATS connects as the client role (credentials when the file is
// there: the dev stack's default path is tried, and skipped when absent).
func connectNATS(o submitOptions) (*nats.Conn, error) {
	opts := []nats.Option{nats.Name("cyberimage submit")}
	if _, err := os.Stat(o.creds); err == nil {
		creds, err := bus.CredentialOptions(o.creds)
		if err != nil {
			return nil, err
		}
		opts = append(opts, creds...)
	}
	if o.tlsCA != "" {
		opts = append(opts, nats.RootCAs(o.tlsCA))
	}
	nc, err := nats.Connect(o.natsURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", o.natsURL, err)
	}
	return nc, nil
}

// jobView is what submit reads of GET /v1/jobs/{id}.
type jobView struct {
	JobID  string `json:"job_id"`
	Status string `json:"status"`
	Error  struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	ImageURLs []struct {
		Key string `json:"key"`
		URL string `json:"url"`
	} `json:"image_urls"`
}

// waitForJob draws a progress bar from the job's events until it ends.
// Events are at-most-once, so the record is also read every few seconds:
// a lost final event delays the end by that much, never hangs it.
func waitForJob(ctx context.Context, c *client, id string, events <-chan *nats.Msg, stderr io.Writer) (jobView, error) {
	poll := time.NewTicker(2 * time.Second)
	defer poll.Stop()
	defer fmt.Fprintln(stderr)
	for {
		select {
		case <-ctx.Done():
			return jobView{}, fmt.Errorf("job %s: still not ended: %w", id, ctx.Err())
		case m := <-events:
			ev, err := bus.DecodeProgressEvent(m.Data)
			if err != nil {
				continue
			}
			fmt.Fprintf(stderr, "\r%s", progressBar(ev))
			if job.Status(ev.Status).Terminal() {
				return readJob(c, id)
			}
		case <-poll.C:
			rec, err := readJob(c, id)
			if err == nil && job.Status(rec.Status).Terminal() {
				return rec, nil
			}
		}
	}
}

func readJob(c *client, id string) (jobView, error) {
	var v jobView
	return v, c.getJSON(jobPath(id), &v)
}

// progressBar is one line: [#####.....] step 5/10  processing on runner-1.
func progressBar(ev bus.ProgressEvent) string {
	const width = 30
	done := 0
	if ev.TotalSteps > 0 {
		done = min(width, ev.Step*width/ev.TotalSteps)
	}
	return fmt.Sprintf("[%s%s] step %d/%d  %-10s %s", strings.Repeat("#", done), strings.Repeat(".", width-done),
		ev.Step, ev.TotalSteps, ev.Status, ev.Runner)
}

// download saves each image as <out>/<job_id>-<index>.png.
func download(c *client, rec jobView, out string, stdout io.Writer) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for i, img := range rec.ImageURLs {
		resp, err := c.hc.Get(img.URL)
		if err != nil {
			return fmt.Errorf("download %s: %w", img.Key, err)
		}
		path := filepath.Join(out, fmt.Sprintf("%s-%d.png", rec.JobID, i))
		err = saveBody(resp, path)
		if err != nil {
			return fmt.Errorf("download %s: %w", img.Key, err)
		}
		fmt.Fprintln(stdout, path)
	}
	return nil
}

func saveBody(resp *http.Response, path string) error {
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
