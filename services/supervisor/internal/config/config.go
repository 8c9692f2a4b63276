// Package config reads the supervisor settings from flags and CYBERIMAGE_*
// environment variables.
package config

import (
	"fmt"
	"io"
	"os"
	"time"

	"cyberimage/shared/config"
	"cyberimage/shared/httpserve"
	"cyberimage/shared/job"
	"cyberimage/shared/objectstore"
	"cyberimage/shared/service"
)

// Config is everything the supervisor needs to start.
type Config struct {
	// Settings are those of every service (NATS, layout, retention, logs,
	// tracing).
	service.Settings
	S3 objectstore.Config
	// Addr serves /status, /v1/jobs, /api/queue, /healthz and /metrics.
	Addr string
	// PresignTTL is how long image URLs in job lookups stay valid.
	PresignTTL time.Duration
	// AdminToken guards the endpoints that change jobs; it also reads and
	// submits.
	AdminToken string
	// ReadToken guards every read (status, lists, job lookups, events,
	// metrics); empty leaves reads open.
	ReadToken string
	// SubmitToken guards submitting over HTTP; empty lets only clients on
	// this host submit.
	SubmitToken string
	// SubmitRate is how many HTTP submissions a minute each token may make.
	SubmitRate int
	// HTTPTLS is the HTTP listener's certificate; empty: plain HTTP.
	HTTPTLS httpserve.TLS
	// RunnerTimeout: a runner silent this long is listed as lost.
	RunnerTimeout time.Duration
	// RunnerLostAfter: the leader takes away the work of a runner silent
	// this long (or restarted as another incarnation); 0 turns it off.
	RunnerLostAfter time.Duration

	// ID names this supervisor among replicas (for the leader lease).
	ID string
	// Watchdog settings, the original app's names and defaults.
	MaxStalledTime   time.Duration
	MaxSilentTime    time.Duration
	CheckInterval    time.Duration
	RecoveryCooldown time.Duration
	// NakDelay is the redelivery delay after a first stall; it doubles.
	NakDelay          time.Duration
	ReconcileInterval time.Duration
	// SnapshotInterval is how often the leader saves the index's view.
	SnapshotInterval time.Duration
	// Archive copies each ended record to S3, in segments.
	Archive bool
	// ArchiveFlushInterval: the longest an ended record waits before its
	// segment is written.
	ArchiveFlushInterval time.Duration
	// ArchiveSegmentRecords: a segment is written once it holds this many.
	ArchiveSegmentRecords int
	// ArchiveIndexInterval: how often the archive's index pages are
	// brought up to date (and its checkpoint saved).
	ArchiveIndexInterval time.Duration
	// ArchiveJobJSON also writes each ended record as
	// images/<job_id>/job.json (one PUT per job).
	ArchiveJobJSON bool
	// ModelsDir is the model catalog, for /v1/models.
	ModelsDir string
	// Webhook is how ended jobs' callback URLs are called.
	Webhook Webhook
	// Clients are the named clients' HTTP tokens and quotas.
	Clients Clients
}

// Webhook are the settings of the completion callbacks.
type Webhook struct {
	// Hosts are the receivers allowed, checked again before every call
	// (ingest checks each request with its own copy of the list).
	Hosts job.CallbackHosts
	// Secret signs every call (HMAC-SHA256); required with Hosts.
	Secret string
	// RetryFor bounds how long a delivery is retried after the job ends.
	RetryFor time.Duration
	// Workers bounds the calls in flight, PerHost those to one host, and
	// MaxPending the deliveries waiting (the oldest is dropped beyond).
	Workers, PerHost, MaxPending int
}

// Load parses args and the environment; help and errors go to out.
func Load(args []string, out io.Writer) (Config, error) {
	var c Config
	l := config.NewLoader("supervisor", out)
	// What is left of a shutdown when a signal comes is quick: the HTTP
	// listener is the only part that waits.
	c.StopTimeout = 10 * time.Second
	c.Settings.Bind(l)
	c.S3.Bind(l)
	l.String(&c.Addr, "supervisor-addr", "127.0.0.1:8080", "HTTP address of the status and lookup endpoints")
	l.Duration(&c.PresignTTL, "presign-ttl", time.Hour, "validity of presigned image URLs")
	l.Secret(&c.AdminToken, "admin-token", "bearer token the HTTP API's admin actions (retry, cancel, purge, reload) require; it also reads and submits (unset: admin actions are off)")
	l.Secret(&c.ReadToken, "read-token", "bearer token every HTTP read requires: status, job lists and lookups, events, metrics (unset: reads are open)")
	l.Secret(&c.SubmitToken, "submit-token", "bearer token POST /v1/jobs and /api/generate require (unset: only clients on this host may submit)")
	l.Int(&c.SubmitRate, "submit-rate", 600, "HTTP submissions a minute each token may make, in bursts of as many (0: no limit)")
	c.HTTPTLS.Bind(l)
	l.Duration(&c.RunnerTimeout, "runner-timeout", 10*time.Second, "a runner without heartbeat this long is shown as lost")
	l.Duration(&c.RunnerLostAfter, "runner-lost-after", 6*time.Second, "take the work of a runner without heartbeat this long (about 3 of its heartbeats), or restarted under the same name, back to the queue at once (0: off, AckWait decides)")
	host, _ := os.Hostname()
	l.String(&c.ID, "supervisor-id", fmt.Sprintf("%s-%d", host, os.Getpid()), "name of this supervisor among replicas")
	l.Duration(&c.MaxStalledTime, "max-stalled-time", 15*time.Minute, "a delivery processing longer than this (from its start) is stalled and recovered")
	l.Duration(&c.MaxSilentTime, "max-silent-time", 5*time.Minute, "a delivery with no progress event for this long, while its in-progress acks continue, is recovered (0: off)")
	l.Duration(&c.CheckInterval, "check-interval", 30*time.Second, "how often the watchdog checks deliveries")
	l.Duration(&c.RecoveryCooldown, "recovery-cooldown", 5*time.Minute, "at most one emergency recovery (model reload) per runner per this period")
	l.Duration(&c.NakDelay, "recovery-nak-delay", time.Second, "redelivery delay after a first stall; doubles with each delivery")
	l.Duration(&c.ReconcileInterval, "reconcile-interval", time.Minute, "how often lost jobs are looked for")
	l.Duration(&c.SnapshotInterval, "snapshot-interval", 10*time.Second, "how often the leader saves its counts and jobs in flight, so a restart follows on from them")
	l.Bool(&c.Archive, "archive", true, "copy each ended record to S3 (in segments under archive/), so it outlives its retention in KV")
	l.Duration(&c.ArchiveFlushInterval, "archive-flush-interval", time.Second, "the longest an ended record waits for others before the archive writes their segment")
	l.Int(&c.ArchiveSegmentRecords, "archive-segment-records", 1000, "the archive writes a segment as soon as it holds this many records")
	l.Duration(&c.ArchiveIndexInterval, "archive-index-interval", time.Minute, "how often the archive's index pages are brought up to date with the segments written since (at most a quarter of the shortest record TTL)")
	l.Bool(&c.ArchiveJobJSON, "archive-job-json", false, "also write each ended record as images/<job_id>/job.json (one S3 PUT per job)")
	l.String(&c.ModelsDir, "models-dir", "infra/models", "folder of model folders, each with a manifest.json (for /v1/models)")
	hosts := c.Webhook.bind(l)
	clients := c.Clients.bind(l)
	if err := l.Parse(args); err != nil {
		return c, err
	}
	c.Webhook.check(l, hosts)
	c.Clients.check(l, clients, c.ReadToken, c.SubmitToken, c.AdminToken)
	c.Settings.Check(l)
	c.S3.Check(l)
	c.HTTPTLS.Check(l)
	l.Check(c.SubmitRate >= 0, "CYBERIMAGE_SUBMIT_RATE must not be negative")
	// The admin token holds every grant: a read or submit token equal to
	// it would hand out the admin actions.
	l.Check(c.AdminToken == "" || (c.ReadToken != c.AdminToken && c.SubmitToken != c.AdminToken),
		"CYBERIMAGE_READ_TOKEN and CYBERIMAGE_SUBMIT_TOKEN must differ from CYBERIMAGE_ADMIN_TOKEN")
	l.Check(c.PresignTTL >= time.Second && c.PresignTTL <= 7*24*time.Hour, "CYBERIMAGE_PRESIGN_TTL must be between 1s and 7 days")
	l.Check(c.RunnerTimeout > 0, "CYBERIMAGE_RUNNER_TIMEOUT must be positive")
	l.Check(c.RunnerLostAfter == 0 || c.RunnerLostAfter >= time.Second, "CYBERIMAGE_RUNNER_LOST_AFTER must be 0 (off) or at least 1s")
	l.Check(c.MaxStalledTime > 0, "CYBERIMAGE_MAX_STALLED_TIME must be positive")
	l.Check(c.MaxSilentTime >= 0, "CYBERIMAGE_MAX_SILENT_TIME must not be negative")
	l.Check(c.CheckInterval > 0, "CYBERIMAGE_CHECK_INTERVAL must be positive")
	l.Check(c.RecoveryCooldown > 0, "CYBERIMAGE_RECOVERY_COOLDOWN must be positive")
	l.Check(c.NakDelay > 0, "CYBERIMAGE_RECOVERY_NAK_DELAY must be positive")
	l.Check(c.ReconcileInterval > 0, "CYBERIMAGE_RECONCILE_INTERVAL must be positive")
	l.Check(c.SnapshotInterval > 0, "CYBERIMAGE_SNAPSHOT_INTERVAL must be positive")
	l.Check(c.ArchiveFlushInterval > 0, "CYBERIMAGE_ARCHIVE_FLUSH_INTERVAL must be positive")
	l.Check(c.ArchiveSegmentRecords > 0, "CYBERIMAGE_ARCHIVE_SEGMENT_RECORDS must be positive")
	l.Check(c.ArchiveIndexInterval > 0, "CYBERIMAGE_ARCHIVE_INDEX_INTERVAL must be positive")
	l.Check(c.ID != "", "CYBERIMAGE_SUPERVISOR_ID must not be empty")
	return c, l.Err()
}
