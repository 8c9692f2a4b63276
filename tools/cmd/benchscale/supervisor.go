package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func buildSupervisor(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "supervisor")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./services/supervisor/cmd/supervisor")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return bin, cmd.Run()
}

// supervisorRun starts supervisors against the bench's bus.
type supervisorRun struct {
	bin, natsURL, modelsDir, logDir string
	queries                         int
}

// latency is a sample of request times.
type latency struct{ p50, p99 time.Duration }

// row is one size's measurements.
type row struct {
	n int
	// The first start after the records were written catches up with
	// them (from the previous size's snapshot, or from nothing at the
	// first size): its time to ready and its peak memory.
	catchUp     time.Duration
	catchUpPeak float64
	// The restart that follows (the first stopped cleanly, saving its
	// view): what an operator's restart costs with n records in history.
	rssMB, peakMB float64
	ready         time.Duration
	queue, status latency
}

// running is a supervisor process started by the bench.
type running struct {
	cmd  *exec.Cmd
	base string
	log  *os.File
}

// start runs a supervisor and waits until it is ready.
func (s supervisorRun) start(ctx context.Context, name string) (*running, time.Duration, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, 0, err
	}
	logFile, err := os.Create(filepath.Join(s.logDir, name+".log"))
	if err != nil {
		return nil, 0, err
	}
	cmd := exec.Command(s.bin)
	cmd.Env = append(os.Environ(), "CYBERIMAGE_DEV=true", "CYBERIMAGE_NATS_URL="+s.natsURL,
		// The figures are the index's, not an archive run's: no S3 here.
		"CYBERIMAGE_ARCHIVE=false", "CYBERIMAGE_S3_ENDPOINT=127.0.0.1:1",
		"CYBERIMAGE_SUPERVISOR_ADDR="+addr, "CYBERIMAGE_MODELS_DIR="+s.modelsDir, "CYBERIMAGE_LOG_LEVEL=warn")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	began := time.Now()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, 0, err
	}
	p := &running{cmd: cmd, base: "http://" + addr, log: logFile}
	client := &http.Client{Timeout: 30 * time.Second}
	for get(client, p.base+"/readyz") != nil {
		if time.Since(began) > 10*time.Minute {
			p.stop()
			return nil, 0, errors.New("supervisor not ready after 10 minutes")
		}
		select {
		case <-ctx.Done():
			p.stop()
			return nil, 0, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return p, time.Since(began), nil
}

// stop ends the supervisor as an operator would (SIGTERM: it saves its
// view on the way out).
func (p *running) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
	p.log.Close()
}

// measure starts a supervisor on a bucket of n records and lets it catch
// up, stops it, then restarts it and times that restart to ready, queries
// it and reads its memory.
func (s supervisorRun) measure(ctx context.Context, n int) (row, error) {
	r := row{n: n}
	first, took, err := s.start(ctx, fmt.Sprintf("supervisor-%d-first", n))
	if err != nil {
		return r, err
	}
	r.catchUp = took
	_, r.catchUpPeak = memoryMB(first.cmd.Process.Pid)
	first.stop()
	p, took, err := s.start(ctx, fmt.Sprintf("supervisor-%d", n))
	if err != nil {
		return r, err
	}
	defer p.stop()
	r.ready = took
	client := &http.Client{Timeout: 30 * time.Second}
	if r.queue, err = s.sample(client, p.base+"/api/queue"); err != nil {
		return r, err
	}
	if r.status, err = s.sample(client, p.base+"/status"); err != nil {
		return r, err
	}
	r.rssMB, r.peakMB = memoryMB(p.cmd.Process.Pid)
	return r, nil
}

// sample times requests to url: s.queries of them, or as many as fit in
// half a minute (at least ten) when each is slow, so a large N whose
// requests take a second each does not take hours.
func (s supervisorRun) sample(client *http.Client, url string) (latency, error) {
	times := make([]time.Duration, 0, s.queries)
	began := time.Now()
	for i := range s.queries {
		if i >= 10 && time.Since(began) > 30*time.Second {
			break
		}
		start := time.Now()
		if err := get(client, url); err != nil {
			return latency{}, err
		}
		times = append(times, time.Since(start))
	}
	slices.Sort(times)
	return latency{p50: times[len(times)/2], p99: times[len(times)*99/100]}, nil
}

func get(client *http.Client, url string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

// memoryMB reads the process's resident set now and at its peak.
func memoryMB(pid int) (rss, peak float64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 64)
		if err != nil {
			continue
		}
		switch name {
		case "VmRSS":
			rss = kb / 1024
		case "VmHWM":
			peak = kb / 1024
		}
	}
	return rss, peak
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
