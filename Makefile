# CyberImage pipeline. `make run` sets everything up and starts the stack;
# `make test` runs every test against real NATS, MinIO and ONNX Runtime.

SHELL := /bin/bash
.DEFAULT_GOAL := help

TOOLS := $(CURDIR)/.tools
BIN   := $(CURDIR)/bin

# Pinned external tools. MinIO and the CLIs are built from the Go module
# proxy; ONNX Runtime's shared library comes from the npm package
# onnxruntime-node (no install scripts run), checked against its sha256.
MINIO_VERSION    := v0.0.0-20260212201848-7aac2a2c5b7c
NATSCLI_VERSION  := v0.5.0
MC_VERSION       := v0.0.0-20250313080218-cf909e1063a9
# The same nats-server the tests embed (shared/go.mod; a test checks), as a
# program: the cluster stack and the cluster tests run three of them.
NATS_SERVER_VERSION := v2.15.2
ORT_NPM_VERSION  := 1.24.3
STATICCHECK_VERSION := v0.8.2
ORT_LIB_SHA256   := 92ba8e44d31b80a34f5e805076a044122c3be1fffe0d88ed790de7267b0b2682

MINIO    := $(TOOLS)/bin/minio
NATS_CLI := $(TOOLS)/bin/nats
MC       := $(TOOLS)/bin/mc
NATS_SERVER := $(TOOLS)/bin/nats-server
STATICCHECK := $(TOOLS)/bin/staticcheck
ORT_LIB  := $(TOOLS)/ort/libonnxruntime.so.1

# go-nvml's headers mark some functions deprecated; the warnings are noise.
export CGO_ENABLED := 1
export CGO_CFLAGS  := -O2 -Wno-deprecated-declarations
# The ORT library the tests and gpu-check use: ours unless the environment
# names another (ONNX Runtime's GPU build on a GPU machine).
CYBERIMAGE_ORT_LIB ?= $(ORT_LIB)
export CYBERIMAGE_ORT_LIB
export CYBERIMAGE_MINIO_BIN := $(MINIO)
export CYBERIMAGE_NATS_SERVER_BIN := $(NATS_SERVER)

SERVICES := ingest gpu-runner supervisor

.PHONY: bench-scale bench-recovery bench-fleet bench-priority chromium redis-server gpu-check
.PHONY: help run run-cluster build tools test-tools test lint fuzz fmt vet clean loadtest bench-runner bench bench-micro

help:
	@echo "make run    set up everything and start the whole stack (Ctrl-C stops it)"
	@echo "make run-cluster  the same on a three-node NATS cluster with R3 streams (CYBERIMAGE_NATS_NODES=3 make run)"
	@echo "make test   lint, unit tests with the race detector, end-to-end tests, short fuzz runs"
	@echo "make lint   gofmt, go vet and staticcheck"
	@echo "make fuzz   fuzz request decoding and the bus decoders, 2 minutes each"
	@echo "make build  build the service binaries and tools into bin/"
	@echo "make bench  pipeline throughput and latency as ratios to the raw limits of NATS, MinIO and the model (BENCH_ARGS=-quick: smoke run)"
	@echo "make bench-scale  supervisor memory, restart time and API latency at 10k, 100k and 1M job records"
	@echo "make bench-recovery  runners killed and frozen, a NATS node frozen, under load: time to run again, lost, done twice (BENCH_RECOVERY_ARGS=-quick: smoke run)"
	@echo "make bench-fleet  an emulated fleet of 50-1,000 runners × 2 slots against the real control plane: where it saturates (BENCH_FLEET_ARGS=-quick: smoke run)"
	@echo "make bench-priority  interactive jobs' queue wait behind a batch of the same model, all normal vs high (BENCH_PRIORITY_ARGS=-batch 100)"
	@echo "make bench-micro  go test -bench of the hot paths"
	@echo "make bench-runner  runner figures: duty cycle, batching, runner memory over 5,000 jobs"
	@echo "make loadtest  check the running stack (make run): LOADTEST_ARGS='--test all' for more"
	@echo "make tools  fetch ONNX Runtime, build MinIO, nats and mc into .tools/"
	@echo "make gpu-check  on a machine with an NVIDIA GPU: NVML telemetry, the demo model on each GPU, a runner on the GPU (exits 0 without a GPU)"

run: tools build
	@cd $(CURDIR) && CYBERIMAGE_ORT_LIB=$(ORT_LIB) $(BIN)/devstack

# The same stack on a three-node NATS cluster (nats-server processes, R3).
run-cluster: tools build
	@cd $(CURDIR) && CYBERIMAGE_NATS_NODES=3 CYBERIMAGE_ORT_LIB=$(ORT_LIB) $(BIN)/devstack

build:
	@mkdir -p $(BIN)
	@echo "build: $(SERVICES) provision devstack loadtest cyberimage -> bin/"
	@go build -o $(BIN)/ingest ./services/ingest/cmd/ingest
	@go build -o $(BIN)/gpu-runner ./services/gpu-runner/cmd/gpu-runner
	@go build -o $(BIN)/supervisor ./services/supervisor/cmd/supervisor
	@go build -o $(BIN)/provision ./tools/cmd/provision
	@go build -o $(BIN)/devstack ./tools/cmd/devstack
	@go build -o $(BIN)/loadtest ./tools/cmd/loadtest
	@go build -o $(BIN)/cyberimage ./tools/cmd/cyberimage

tools: $(ORT_LIB) $(MINIO) $(NATS_SERVER) $(NATS_CLI) $(MC)

# What the tests need: no CLIs, but a headless browser for the console.
test-tools: $(ORT_LIB) $(MINIO) $(NATS_SERVER) $(STATICCHECK) chromium redis-server

# Debian's redis-server runs asynq, the peer make bench measures beside the
# pipeline (and the tests of that comparison); installed with apt when
# missing, as root or through sudo. Without it the bench says "asynq: not
# measured" and, outside CI, those tests skip.
redis-server:
	@if command -v redis-server >/dev/null 2>&1; then exit 0; fi; \
	echo "tools: installing Debian's redis-server for the asynq comparison (apt-get)"; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; else sudo="sudo -n"; fi; \
	{ $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends redis-server >/dev/null; } \
	  || echo "tools: could not install redis-server (apt-get install redis-server): asynq will not be measured"

# Debian's chromium drives the console tests (chromedp); installed with apt
# when missing, as root or through sudo.
chromium:
	@if [ -n "$$CYBERIMAGE_CHROMIUM" ] || command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then exit 0; fi; \
	echo "tools: installing Debian's chromium for the console tests (apt-get)"; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi; \
	$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null \
	  || { echo "tools: could not install chromium: install it (apt-get install chromium) or set CYBERIMAGE_CHROMIUM"; exit 1; }

$(ORT_LIB):
	@echo "tools: fetching onnxruntime-node@$(ORT_NPM_VERSION) from npm for libonnxruntime.so.1"
	@mkdir -p $(TOOLS)/ort/pack
	@cd $(TOOLS)/ort/pack && npm pack --silent onnxruntime-node@$(ORT_NPM_VERSION) >/dev/null
	@tar -xzf $(TOOLS)/ort/pack/onnxruntime-node-$(ORT_NPM_VERSION).tgz -C $(TOOLS)/ort/pack package/bin/napi-v6/linux/x64/libonnxruntime.so.1
	@echo "$(ORT_LIB_SHA256)  $(TOOLS)/ort/pack/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" | sha256sum --check --quiet
	@mv $(TOOLS)/ort/pack/package/bin/napi-v6/linux/x64/libonnxruntime.so.1 $@
	@rm -rf $(TOOLS)/ort/pack
	@echo "tools: $@ ready"

$(MINIO):
	@echo "tools: building MinIO server $(MINIO_VERSION) (first time only: about 5-10 minutes on 2 cores)"
	@mkdir -p $(TOOLS)/bin
	@cd /tmp && GOBIN=$(TOOLS)/bin GOWORK=off go install github.com/minio/minio@$(MINIO_VERSION)
	@echo "tools: $@ ready"

$(NATS_CLI):
	@echo "tools: building the nats CLI $(NATSCLI_VERSION) (first time only: a few minutes)"
	@mkdir -p $(TOOLS)/bin
	@cd /tmp && GOBIN=$(TOOLS)/bin GOWORK=off go install github.com/nats-io/natscli/nats@$(NATSCLI_VERSION)

$(NATS_SERVER):
	@echo "tools: building nats-server $(NATS_SERVER_VERSION) (first time only: a minute or two)"
	@mkdir -p $(TOOLS)/bin
	@cd /tmp && GOBIN=$(TOOLS)/bin GOWORK=off go install github.com/nats-io/nats-server/v2@$(NATS_SERVER_VERSION)
	@echo "tools: $@ ready"

$(STATICCHECK):
	@echo "tools: building staticcheck $(STATICCHECK_VERSION)"
	@mkdir -p $(TOOLS)/bin
	@cd /tmp && GOBIN=$(TOOLS)/bin GOWORK=off go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

$(MC):
	@echo "tools: building the MinIO client mc (first time only: a few minutes)"
	@mkdir -p $(TOOLS)/bin
	@cd /tmp && GOBIN=$(TOOLS)/bin GOWORK=off go install github.com/minio/mc@$(MC_VERSION)

# Every package but the end-to-end tests runs under the race detector;
# packages with background goroutines check for leaks with goleak. Unit
# packages run two at a time (-p 2: the phase is bound by linking race test
# binaries, 90 s one at a time, 45 s two). The end-to-end tests start
# processes and run alone; timeouts bound a hung test.
UNIT_PKGS = $$(go list cyberimage/... | grep -v '/tools/e2e$$')
# Every decoder of what arrives from outside: requests, each bus message and
# ack, and every value read back from KV and S3 (records, tombstones, the
# lease, the index snapshot, the archive checkpoint, job.json, the archive's
# index pages and segment members).
FUZZ_TARGETS := FuzzDecodeAndNormalize:./shared/job FuzzParseAckSubject:./shared/bus FuzzDecodeHeartbeat:./shared/bus \
	FuzzDecodeProgressEvent:./shared/bus FuzzDecodeControl:./shared/bus FuzzDecodeAdvisory:./shared/bus FuzzDecodeWork:./shared/bus \
	FuzzDecodeRequestReply:./shared/bus FuzzDecodeDeadLetter:./shared/bus \
	FuzzAckKindOf:./shared/bus FuzzTermReason:./shared/bus FuzzDecodeRecord:./shared/jobstore FuzzDecodeTombstone:./shared/jobstore \
	FuzzDecodeHolder:./services/supervisor/internal/lease FuzzDecodeSnapshot:./services/supervisor/internal/index \
	FuzzDecodeManifest:./services/supervisor/internal/index FuzzDecodeArchived:./services/supervisor/internal/archive \
	FuzzDecodeCheckpoint:./services/supervisor/internal/archive FuzzDecodePage:./services/supervisor/internal/archive \
	FuzzDecodeMember:./services/supervisor/internal/archive

# The short runs are bounded by a count of inputs, not by time: Go's fuzzer
# can report its own time limit as a failure ("context deadline exceeded")
# when the limit falls while a worker is busy, which turned CI red on a busy
# machine. A count has no deadline to trip over.
FUZZ_SHORT := 20000x

# Each stage of `make test` ends with one line, "ci-stage: <stage> <seconds>s"
# ("(failed)" added when it failed), so a slow or red CI run says where its
# time went. $(1) names the stage, $(2) is its command (run in a subshell).
ci_stage = s=$$(date +%s); ( $(2) ); rc=$$?; echo "ci-stage: $(1) $$(( $$(date +%s) - s ))s$$([ $$rc = 0 ] || echo ' (failed)')"; exit $$rc

test:
	@$(call ci_stage,test-tools,$(MAKE) --no-print-directory test-tools)
	@$(call ci_stage,lint,$(MAKE) --no-print-directory lint)
	@echo "test: unit and package tests (race detector)"
	@$(call ci_stage,unit,go test -p 2 -count=1 -race -timeout 20m $(UNIT_PKGS))
	@echo "test: end-to-end tests against real NATS, MinIO and service processes"
	@$(call ci_stage,e2e,go test -p 1 -count=1 -timeout 20m ./tools/e2e)
	@echo "test: short fuzz runs ($(FUZZ_SHORT) inputs each)"
	@$(call ci_stage,fuzz,for t in $(FUZZ_TARGETS); do go test -run '^$$' -fuzz "^$${t%%:*}$$" -fuzztime $(FUZZ_SHORT) "$${t#*:}" || exit 1; done)

# Fails on unformatted files, vet findings and staticcheck findings.
lint: $(STATICCHECK)
	@echo "lint: gofmt, go vet, staticcheck"
	@out=$$(gofmt -l shared services tools); if [ -n "$$out" ]; then echo "gofmt -l lists files to format:"; echo "$$out"; exit 1; fi
	go vet cyberimage/...
	$(STATICCHECK) cyberimage/...

fuzz:
	@for t in $(FUZZ_TARGETS); do go test -run '^$$' -fuzz "^$${t%%:*}$$" -fuzztime 2m "$${t#*:}" || exit 1; done

fmt:
	gofmt -l -w shared services tools

vet:
	go vet cyberimage/...

# Pipeline benchmark (BENCHMARKS.md): raw limits of JetStream, MinIO and the
# model, then 2000 jobs through the real services; markdown on stdout,
# results.json and charts in bench-out/. Never fails on a missed target.
# asynq + Redis, the peer, runs the same work beside it when Debian's
# redis-server is installed: installed with apt when missing, as root or
# through sudo -n; without it the bench says "asynq: not measured".
BENCH_ARGS ?=
bench: test-tools
	go run ./tools/cmd/bench $(BENCH_ARGS)

# What a runner on this machine finds and does with its GPUs: NVML's GPUs
# and telemetry, the CUDA provider libraries beside the ORT library, the
# demo model on each GPU against the CPU, then a runner that requires a GPU
# running a job on it. CYBERIMAGE_ORT_LIB must name ONNX Runtime's GPU
# build (README, GPUs). Without a GPU it says so and exits 0.
gpu-check: $(MINIO) $(NATS_SERVER) $(ORT_LIB)
	go run ./services/gpu-runner/cmd/gpu-check
	@if nvidia-smi -L >/dev/null 2>&1; then go test -count=1 -run '^TestRunnerRequiringAGPU$$' -v ./tools/e2e; fi

# Supervisor memory, restart-to-ready time and /api/queue, /status latency
# at 0, 10k, 100k and 1M job records (BENCH_SCALE_ARGS='-n 10000,100000' for
# a shorter run). NATS with auth: records written as ingest, the supervisor
# as itself. Printed, never asserted (its counts are checked).
BENCH_SCALE_ARGS ?=
bench-scale:
	go run ./tools/cmd/benchscale $(BENCH_SCALE_ARGS)

# Recovery under steady load (issue: recover in seconds): 20 runners killed
# -9, 5 frozen past the lost threshold, 3 NATS nodes frozen, on a three-node
# cluster; the time from each fault to the job running elsewhere, lost and
# twice-done jobs, the longest pause in completions. About 15 minutes;
# BENCH_RECOVERY_ARGS=-quick: about 3. Printed, never asserted.
BENCH_RECOVERY_ARGS ?=
bench-recovery: $(ORT_LIB) $(MINIO) $(NATS_SERVER)
	go run ./tools/cmd/benchrecovery $(BENCH_RECOVERY_ARGS)

# Where the control plane breaks (issue 26): emulated runners speaking the
# real protocol (pull, claim, in-progress acks with ownership reads, step
# events, heartbeats, PUT, fenced completion, ack) in steps of 50, 200, 500
# and 1,000 runners × 2 slots, 70% busy, against the three-node NATS
# cluster, MinIO, ingest and two supervisors; per step CPU and RSS per
# process, messages by kind, index lag, publish → claim, and what saturates
# first; stops at the step this machine cannot hold. About 12 minutes;
# BENCH_FLEET_ARGS=-quick: about 1. Printed, never asserted.
BENCH_FLEET_ARGS ?=
bench-fleet: $(MINIO) $(NATS_SERVER)
	go run ./tools/cmd/benchfleet $(BENCH_FLEET_ARGS)

# Priority classes (issue 27): a batch of 200 jobs of the demo model queued
# at once, 30 interactive jobs sent one at a time while it runs; their queue
# wait p50/p99 when every job is normal, and when they are high (batch
# normal, then low), beside the batch's drain time. About a minute.
# Printed, never asserted.
BENCH_PRIORITY_ARGS ?=
bench-priority: $(ORT_LIB) $(MINIO)
	go run ./tools/cmd/benchpriority $(BENCH_PRIORITY_ARGS)

# Micro-benchmarks of the hot paths; -p 1 keeps packages off each other's cores.
bench-micro:
	go test -p 1 -run '^$$' -bench 'Decode|Get|Update|EncodeRGB|ToBytes|Coords' -benchmem \
		./shared/job ./shared/jobstore ./services/gpu-runner/internal/imaging ./services/gpu-runner/internal/pipeline

# Runner figures (issue: busy accelerator): duty cycle and median gap between
# model runs, throughput at batch 1 and 8, runner RSS after 200 and 5,000
# jobs. Printed, never asserted: this machine is shared and noisy.
bench-runner: test-tools
	go test -run '^$$' -bench 'DutyCycle|Batching' -benchtime 1x ./services/gpu-runner/internal/worker/
	go test -run '^$$' -bench 'EncodeRGB/512' -benchtime 20x ./services/gpu-runner/internal/imaging/
	go test -run '^$$' -bench RunnerMemory -benchtime 1x -timeout 30m ./tools/e2e/

# Checks the stack `make run` started in another terminal.
LOADTEST_ARGS ?= --test load --jobs 50
loadtest:
	@mkdir -p $(BIN)
	@go build -o $(BIN)/loadtest ./tools/cmd/loadtest
	@CYBERIMAGE_NATS_CREDS=$${CYBERIMAGE_NATS_CREDS:-$(CURDIR)/.data/creds/admin.creds} $(BIN)/loadtest $(LOADTEST_ARGS)

clean:
	rm -rf $(BIN)
