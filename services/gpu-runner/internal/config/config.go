// Package config reads the runner settings from flags and CYBERIMAGE_*
// environment variables.
package config

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"cyberimage/shared/bus"
	"cyberimage/shared/config"
	"cyberimage/shared/httpserve"
	"cyberimage/shared/models"
	"cyberimage/shared/objectstore"
	"cyberimage/shared/service"
)

// Config is everything a runner needs to start.
type Config struct {
	// Settings are those of every service (NATS, layout, retention, logs,
	// tracing).
	service.Settings
	S3             objectstore.Config
	RunnerID       string
	ModelsDir      string
	Models         string
	ORTLibrary     string
	Slots          int
	Devices        string
	SlotsPerGPU    int
	RequireGPU     bool
	IntraOpThreads int
	Heartbeat      time.Duration
	PNGLevel       string
	AbandonTimeout time.Duration
	AbandonCooloff time.Duration
	Overlap        bool
	Prefetch       bool
	UploadPatience time.Duration
	ModelMemoryMB  int
	JobMemory      models.JobMemory
	MaxBatch       int
	BatchWindow    time.Duration
	// Faults are for tests and demos only; off unless set.
	// HTTPAddr serves /livez and /readyz (empty: off).
	HTTPAddr string
	// HTTPTLS is that listener's certificate; empty: plain HTTP.
	HTTPTLS httpserve.TLS

	FaultHangPrompt string
	FaultHangStep   int
	FaultHangStuck  bool
	// FaultClockSkew shifts every time this runner writes (records,
	// events, heartbeats), to show that no decision trusts a runner's clock.
	FaultClockSkew time.Duration
}

// Load parses args and the environment; help and errors go to out.
func Load(args []string, out io.Writer) (Config, error) {
	var c Config
	l := config.NewLoader("gpu-runner", out)
	c.Settings.Bind(l)
	c.S3.Bind(l)
	host, _ := os.Hostname()
	host = strings.ReplaceAll(host, ".", "-")
	l.String(&c.RunnerID, "runner-id", "", "unique runner name (default: the name its NATS credentials were issued for, else host-pid)")
	l.String(&c.ModelsDir, "models-dir", "infra/models", "folder of model folders, each with a manifest.json")
	l.String(&c.Models, "models", "", "models this runner serves, comma-separated (empty: every model in the models folder)")
	l.String(&c.ORTLibrary, "ort-lib", ".tools/ort/libonnxruntime.so.1", "path of the ONNX Runtime shared library")
	l.Int(&c.Slots, "slots", 1, "jobs run at once on the CPU (when no GPU is used)")
	l.String(&c.Devices, "devices", "auto", "where to run: auto (every GPU NVML finds, else CPU), cpu, or GPU indices like 0,1")
	l.Int(&c.SlotsPerGPU, "slots-per-gpu", 1, "jobs run at once on each GPU")
	l.Bool(&c.RequireGPU, "require-gpu", false, "refuse to start without a usable GPU (driver, device and CUDA provider libraries)")
	l.Int(&c.IntraOpThreads, "intra-op-threads", 1, "ONNX Runtime threads per run (set it: ORT's default oversubscribes small machines)")
	l.Duration(&c.Heartbeat, "heartbeat-interval", 2*time.Second, "how often the runner announces itself")
	l.String(&c.HTTPAddr, "runner-addr", "", "address of the runner's /metrics, /livez and /readyz (empty: off)")
	c.HTTPTLS.Bind(l)
	l.Duration(&c.Settings.StopTimeout, "stop-timeout", 30*time.Second, "on shutdown, how long running jobs may finish before they are handed back")
	l.String(&c.PNGLevel, "png-compression", "speed", "PNG compression: speed, default, best or none")
	l.Duration(&c.AbandonTimeout, "abandon-timeout", 30*time.Second, "after an abandon order, exit non-zero if the inference has not stopped within this (its process manager restarts it)")
	l.Duration(&c.AbandonCooloff, "abandon-cooloff", 10*time.Second, "a slot whose job was taken away pulls nothing for this long, so the job goes to a healthy runner")
	l.Int(&c.ModelMemoryMB, "model-memory-mb", 0, "per device, MB of model files kept loaded; least recently used models are evicted beyond it (0: no limit)")
	c.JobMemory.Bind(l)
	l.Duration(&c.UploadPatience, "upload-patience", 2*time.Minute, "when S3 fails, keep the images and retry the upload for this long before handing the job back")
	l.Bool(&c.Prefetch, "prefetch", true, "while a job runs, take the next one if it is already queued, so the model never waits for a fetch")
	l.Bool(&c.Overlap, "overlap", true, "encode, upload and ack a job while the next one runs on the model")
	l.Int(&c.MaxBatch, "max-batch", 1, "jobs with the same model, size and steps run as one model batch (1: no batching)")
	l.Duration(&c.BatchWindow, "batch-window", 5*time.Millisecond, "after the first job, how long to wait for more to batch")
	l.String(&c.FaultHangPrompt, "fault-hang-prompt", "", "TESTS AND DEMOS ONLY: jobs whose prompt contains this hang mid-inference")
	l.Int(&c.FaultHangStep, "fault-hang-step", 1, "TESTS AND DEMOS ONLY: the step at which such jobs hang")
	l.Bool(&c.FaultHangStuck, "fault-hang-stuck", false, "TESTS AND DEMOS ONLY: the hang ignores termination (a wedged GPU)")
	l.Duration(&c.FaultClockSkew, "fault-clock-skew", 0, "TESTS AND DEMOS ONLY: shift every time this runner writes by this much (e.g. 10m, -10m)")
	if err := l.Parse(args); err != nil {
		return c, err
	}
	c.Settings.Check(l)
	c.S3.Check(l)
	c.HTTPTLS.Check(l)
	c.checkRunnerID(l, fmt.Sprintf("%s-%d", host, os.Getpid()))
	l.Check(c.Slots >= 1, "CYBERIMAGE_SLOTS must be at least 1")
	l.Check(c.ModelMemoryMB >= 0, "CYBERIMAGE_MODEL_MEMORY_MB must not be negative")
	c.JobMemory.Check(l)
	l.Check(c.MaxBatch >= 1 && c.MaxBatch <= 64, "CYBERIMAGE_MAX_BATCH must be 1 to 64")
	l.Check(c.MaxBatch == 1 || c.BatchWindow > 0, "CYBERIMAGE_BATCH_WINDOW must be positive when batching")
	l.Check(c.SlotsPerGPU >= 1, "CYBERIMAGE_SLOTS_PER_GPU must be at least 1")
	l.Check(c.IntraOpThreads >= 1, "CYBERIMAGE_INTRA_OP_THREADS must be at least 1")
	l.Check(c.AbandonTimeout > 0, "CYBERIMAGE_ABANDON_TIMEOUT must be positive")
	l.Check(c.Heartbeat > 0, "CYBERIMAGE_HEARTBEAT_INTERVAL must be positive")
	l.Check(map[string]bool{"speed": true, "default": true, "best": true, "none": true}[c.PNGLevel], "CYBERIMAGE_PNG_COMPRESSION must be speed, default, best or none")
	return c, l.Err()
}

// checkRunnerID takes the runner's name from its credentials, which name
// it: the server lets a runner publish only its own heartbeat and hear only
// its own orders, so a different CYBERIMAGE_RUNNER_ID could never work.
// Without named credentials (dev stack without auth) it defaults to
// fallback.
func (c *Config) checkRunnerID(l *config.Loader, fallback string) {
	var named string
	if c.NATS.CredsFile != "" {
		id, ok, err := bus.IdentityOf(c.NATS.CredsFile)
		l.Check(err == nil, "%s: %v", l.Name("nats-creds"), err)
		l.Check(!ok || id.Role == "runner", "%s was issued for a %s, not a runner", l.Name("nats-creds"), id.Role)
		if ok && id.Role == "runner" {
			named = id.Name
		}
	}
	switch {
	case c.RunnerID == "" && named != "":
		c.RunnerID = named
	case c.RunnerID == "":
		c.RunnerID = fallback
	}
	l.Check(named == "" || c.RunnerID == named, "%s %q differs from the runner its credentials name (%q)", l.Name("runner-id"), c.RunnerID, named)
	l.Check(c.RunnerID != "" && !strings.ContainsAny(c.RunnerID, ".*> \t"), "CYBERIMAGE_RUNNER_ID %q must be non-empty without dots, spaces, * or > (it is a NATS subject token)", c.RunnerID)
}
