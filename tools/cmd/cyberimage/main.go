// Command cyberimage is the CLI for a running pipeline: it submits requests
// over NATS and waits for their images, and asks the supervisor's HTTP API
// for the status, jobs, the queue counts and each client's use of its
// quota, and re-queues failed jobs or cancels unfinished ones.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
)

const usageText = `cyberimage talks to the supervisor's HTTP API.

  cyberimage [--supervisor http://127.0.0.1:8080] <command>

Commands:
  status       runners, work queue and jobs in progress (GET /status)
  submit --prompt P [--width W --height H --steps N --num-images N --model M --seed S --priority high|normal|low ...] [--wait] [--out DIR]
               publish a request on NATS as a client (--creds, default .data/creds/client.creds) and print
               the job id; --wait shows its progress and downloads its images (exit 1 when rejected or failed,
               3 when refused for the client's quota or rate). It is sent as the client the creds name, on
               cyberimage.requests.<client> (the default client's on cyberimage.requests); --client NAME overrides
  clients      each client's queued, running and recently accepted jobs beside its limits (GET /v1/clients)
  jobs [status=S] [model=M] [client=C] [q=TEXT] [limit=N] [cursor=C]
               jobs newest first, one line each, and the command for the next page (GET /v1/jobs)
  job <id>     the job record with presigned image URLs, as JSON (GET /v1/jobs/{id})
  retry <id>   re-queue a failed job (POST /v1/jobs/{id}/retry)
  retry --all-failed
               re-queue every failed job (POST /v1/jobs/retry-failed)
  purge [status=S] [older_than=D]
               remove ended jobs' records now, by status and age, e.g. status=completed older_than=24h
               (POST /v1/jobs/purge; images and archived records stay in S3)
  watch [<id>] live progress events, one JSON line each (GET /v1/events)
  reload <runner>
               order a runner to drop and reload its models; it takes no new work until done
               (POST /v1/runners/{runner}/reload)
  pause <model>
               pause a model's queue: its jobs wait, none starts, until resumed (POST /v1/models/{model}/pause)
  resume <model>
               let a paused model's jobs start again (POST /v1/models/{model}/resume)
  drain <runner>
               before maintenance: the runner takes no new work, finishes what it runs and stays up
               (POST /v1/runners/{runner}/drain; status shows it draining until undrained)
  undrain <runner>
               let a drained runner take work again (POST /v1/runners/{runner}/undrain)
  completion bash
               print a bash completion script: source <(cyberimage completion bash)
  cancel <id>  cancel a queued or running job (POST /v1/jobs/{id}/cancel)
  queue        the original app's queue counts, detailed (GET /api/queue?detailed=true)

retry, cancel, purge, reload, pause, resume, drain and undrain need the admin token: CYBERIMAGE_ADMIN_TOKEN, or the file --admin-token-file names
(make run writes .data/creds/admin-token, the default). It is sent with every call (it reads too); without
it, CYBERIMAGE_READ_TOKEN is, for a supervisor whose reads need a viewer token.

Exit status: 0 done, 1 the supervisor said no or could not be reached, 2 usage error, 3 submit was refused
for the client's quota (quota_exceeded) or rate (rate_limited): send it again after the hint it prints.

Flags:
`

// errUsage marks a command line that makes no sense (exit 2).
var errUsage = errors.New("usage")

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cyberimage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageText)
		fs.PrintDefaults()
	}
	base := fs.String("supervisor", envOr("CYBERIMAGE_SUPERVISOR_URL", "http://"+envOr("CYBERIMAGE_SUPERVISOR_ADDR", "127.0.0.1:8080")),
		"supervisor base URL [CYBERIMAGE_SUPERVISOR_URL, else http:// and CYBERIMAGE_SUPERVISOR_ADDR]")
	tokenFile := fs.String("admin-token-file", envOr("CYBERIMAGE_ADMIN_TOKEN_FILE", ".data/creds/admin-token"),
		"file holding the admin token, when CYBERIMAGE_ADMIN_TOKEN is unset [CYBERIMAGE_ADMIN_TOKEN_FILE]")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, version())
		return 0
	}
	c, err := newClient(*base)
	if err != nil {
		fmt.Fprintf(stderr, "cyberimage: %v\n", err)
		return 2
	}
	// The admin token also reads; without it, a viewer's token (a
	// supervisor with CYBERIMAGE_READ_TOKEN set answers reads only with one).
	c.token = adminToken(*tokenFile)
	if c.token == "" {
		c.token = strings.TrimSpace(os.Getenv("CYBERIMAGE_READ_TOKEN"))
	}
	err = dispatch(c, fs.Args(), stdout, stderr)
	switch {
	case errors.Is(err, errRetryLater):
		fmt.Fprintf(stderr, "cyberimage: %v\n", err)
		return 3
	case errors.Is(err, errRejected):
		fmt.Fprintf(stderr, "cyberimage: %v\n", err)
		return 1
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "cyberimage: %v\n\n", err)
		fs.Usage()
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "cyberimage: %v\n", err)
		return 1
	}
	return 0
}

// commands maps each command to its number of arguments.
var commands = map[string]int{"status": 0, "clients": 0, "job": 1, "retry": 1, "cancel": 1, "queue": 0, "reload": 1,
	"pause": 1, "resume": 1, "drain": 1, "undrain": 1}

func dispatch(c *client, args []string, out, errOut io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: a command is required", errUsage)
	}
	cmd, rest := args[0], args[1:]
	switch {
	case cmd == "jobs":
		return listJobs(c, rest, out)
	case cmd == "submit":
		return submitJob(c, rest, out, errOut)
	case cmd == "purge":
		return purgeJobs(c, rest, out)
	case cmd == "watch":
		return watch(c, rest, out)
	case cmd == "completion":
		return completion(rest, out)
	case cmd == "retry" && len(rest) == 1 && rest[0] == "--all-failed":
		return c.show(out, http.MethodPost, "/v1/jobs/retry-failed", http.StatusAccepted)
	}
	want, ok := commands[cmd]
	if !ok {
		return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
	}
	if len(rest) != want || (want == 1 && strings.TrimSpace(rest[0]) == "") {
		return fmt.Errorf("%w: %s takes %d argument(s)", errUsage, cmd, want)
	}
	switch cmd {
	case "status":
		return showStatus(c, out)
	case "clients":
		return showClients(c, out)
	case "job":
		return c.show(out, http.MethodGet, jobPath(rest[0]), http.StatusOK)
	case "retry":
		// The supervisor refuses a job that has not failed (409) and an
		// unknown id (404).
		return c.show(out, http.MethodPost, jobPath(rest[0])+"/retry", http.StatusAccepted)
	case "cancel":
		// It refuses an ended job (409) and an unknown id (404).
		return c.show(out, http.MethodPost, jobPath(rest[0])+"/cancel", http.StatusOK)
	case "reload":
		return c.show(out, http.MethodPost, "/v1/runners/"+url.PathEscape(rest[0])+"/reload", http.StatusAccepted)
	case "pause", "resume", "drain", "undrain":
		return fleetAction(c, cmd, rest[0], out)
	default: // queue: the original app's counts
		return c.show(out, http.MethodGet, "/api/queue?detailed=true", http.StatusOK)
	}
}

// adminToken is CYBERIMAGE_ADMIN_TOKEN, or the content of file; empty when
// neither is there (read-only commands need none).
func adminToken(file string) string {
	if t := strings.TrimSpace(os.Getenv("CYBERIMAGE_ADMIN_TOKEN")); t != "" {
		return t
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}
