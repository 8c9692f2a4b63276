// Command bench measures the pipeline's throughput and latency as ratios to
// the raw limits of its parts, all measured in the same run on the same
// machine: JetStream alone, MinIO alone and the model alone, a raw loop of
// the same work, the design's floor and the peer (asynq + Redis, when
// redis-server is installed), then the whole pipeline (ingest, runners,
// supervisor as processes) on the same servers.
// A shared, noisy machine makes absolute figures meaningless from one run
// to the next; the ratios are what it reports on.
//
//	go run ./tools/cmd/bench                 # 2000 jobs, 2 runners, 64×64, 1 step
//	go run ./tools/cmd/bench -quick          # smoke run: 200 jobs
//
// It prints a markdown table on stdout (progress goes to stderr) and writes
// results.json, charts and the services' logs to -out. A missed target is
// reported, never an exit status: this is a benchmark, not a test.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"cyberimage/tools/internal/benchstack"
)

type options struct {
	benchstack.RunFlags
	jobs, runners, slots, size, steps int
	pacedJobs, inflight               int
	rawMsgs, rawPuts, modelRuns       int
	models, modelsDir                 string
	profile, bracket                  bool
	floorLadder                       bool
	asynq                             bool   // the peer, asynq + Redis, when redis-server is installed
	redisBin                          string // redis-server, found on PATH
	auth, tls                         bool   // NATS with per-role credentials, over TLS
	replicas                          int    // JetStream replicas (and servers)
	ortLib, minioBin                  string
	cores                             int
	runnerEnv, supervisorEnv          envList
}

// envList is a repeatable KEY=VALUE flag.
type envList []string

func (e *envList) String() string { return strings.Join(*e, " ") }

func (e *envList) Set(v string) error {
	if !strings.Contains(v, "=") {
		return fmt.Errorf("%q is not KEY=VALUE", v)
	}
	*e = append(*e, v)
	return nil
}

func main() {
	var o options
	o.RunFlags = benchstack.RunFlags{Out: "bench-out", Deadline: 15 * time.Minute}
	o.Register("ingest, gpu-runner, supervisor and bench-model", "results.json, charts, logs and profiles", "200 jobs and fewer raw iterations")
	flag.IntVar(&o.jobs, "jobs", 2000, "jobs published at once in the throughput phase")
	flag.IntVar(&o.runners, "runners", 2, "gpu-runner processes")
	flag.IntVar(&o.slots, "slots", 1, "slots per runner (CYBERIMAGE_SLOTS)")
	flag.IntVar(&o.size, "size", 64, "image width and height (multiple of 8, 64-2048)")
	flag.IntVar(&o.steps, "steps", 1, "steps per job")
	flag.IntVar(&o.pacedJobs, "paced-jobs", 300, "jobs of the latency phase, published one after another")
	flag.IntVar(&o.inflight, "inflight", 1, "jobs in the pipeline at once in the latency phase")
	flag.IntVar(&o.rawMsgs, "raw-msgs", 5000, "messages of the raw JetStream measurement")
	flag.IntVar(&o.rawPuts, "raw-puts", 2000, "PUTs of the raw MinIO measurement")
	flag.IntVar(&o.modelRuns, "model-runs", 3000, "inferences of the model-alone measurement")
	flag.StringVar(&o.models, "models", "", "comma-separated models the services serve (default: every model in infra/models, as shipped)")
	flag.Var(&o.supervisorEnv, "supervisor-env", "KEY=VALUE added to the supervisor's environment (repeatable), e.g. CYBERIMAGE_ARCHIVE=false")
	flag.Var(&o.runnerEnv, "runner-env", "KEY=VALUE added to the runners' environment, to compare settings (repeatable), e.g. GOMAXPROCS=1 or CYBERIMAGE_PNG_COMPRESSION=none")
	// On by default: services run with their own role's credentials, as
	// they do for users; -auth=false measures an open server for comparison.
	flag.BoolVar(&o.auth, "auth", true, "NATS in operator mode: every service and client with its role's credentials, as make run (-auth=false: an open server, for comparison)")
	flag.IntVar(&o.replicas, "replicas", 1, "JetStream replicas: 3 runs three NATS servers clustered in the harness and provisions R3 (the raw JetStream limit too), to price R3 against R1")
	flag.BoolVar(&o.tls, "tls", false, "NATS over TLS (a throwaway CA); with -auth or alone")
	flag.BoolVar(&o.bracket, "bracket", true, "measure the raw limits again after the pipeline and use the mean of both (their spread shows the noise)")
	flag.BoolVar(&o.profile, "profile", false, "during the throughput phase, CPU-profile the harness (NATS server) with pprof and the services with perf, if installed; perturbs the figures")
	flag.BoolVar(&o.floorLadder, "floor-ladder", false, "before the pipeline, also run the design's floor part by part (queue, record, intake, events, supervisor, archive): what each guarantee costs; about 12 s a part")
	flag.BoolVar(&o.asynq, "asynq", true, "also measure the peer, asynq + Redis doing the same work, before and after the pipeline, when redis-server is installed (apt-get install redis-server)")
	flag.Parse()
	o.Quicken(map[string]string{"jobs": "200", "paced-jobs": "50", "raw-msgs": "1000", "raw-puts": "300", "model-runs": "500"})
	if o.jobs < 1 || o.runners < 1 || o.slots < 1 || o.steps < 1 || o.pacedJobs < 1 || o.inflight < 1 ||
		!benchstack.ValidSide(o.size) || o.rawMsgs < 1 || o.rawPuts < 1 || o.modelRuns < 1 {
		fmt.Fprintln(os.Stderr, "bench: counts must be at least 1; -size a multiple of 8 in 64-2048")
		os.Exit(2)
	}
	o.cores = runtime.NumCPU()
	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}
