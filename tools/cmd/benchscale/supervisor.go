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
	n             int
	rssMB, peakMB float64
	ready         time.Duration
	queue, status latency
}

// measure starts a supervisor (a restart, as far as it can tell: the bucket
// holds n records), times it to ready, queries it, reads its memory and
// stops it.
func (s supervisorRun) measure(ctx context.Context, n int) (row, error) {
	r := row{n: n}
	addr, err := freeAddr()
	if err != nil {
		return r, err
	}
	logFile, err := os.Create(filepath.Join(s.logDir, fmt.Sprintf("supervisor-%d.log", n)))
	if err != nil {
		return r, err
	}
	defer logFile.Close()
	cmd := exec.Command(s.bin)
	cmd.Env = append(os.Environ(), "CYBERIMAGE_DEV=true", "CYBERIMAGE_NATS_URL="+s.natsURL,
		// Never reached: the archive checkpoint is past every record.
		"CYBERIMAGE_S3_ENDPOINT=127.0.0.1:1",
		"CYBERIMAGE_SUPERVISOR_ADDR="+addr, "CYBERIMAGE_MODELS_DIR="+s.modelsDir, "CYBERIMAGE_LOG_LEVEL=warn")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return r, err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}()
	client := &http.Client{Timeout: 30 * time.Second}
	base := "http://" + addr
	for {
		if get(client, base+"/readyz") == nil {
			break
		}
		if time.Since(start) > 10*time.Minute {
			return r, errors.New("supervisor not ready after 10 minutes")
		}
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	r.ready = time.Since(start)
	if r.queue, err = s.sample(client, base+"/api/queue"); err != nil {
		return r, err
	}
	if r.status, err = s.sample(client, base+"/status"); err != nil {
		return r, err
	}
	r.rssMB, r.peakMB = memoryMB(cmd.Process.Pid)
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
