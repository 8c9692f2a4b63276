package main

import (
	"os"
	"testing"
	"time"
)

// Without redis-server on PATH the bench runs on and says why the peer is
// missing, in the words the report prints.
func TestAsynqIsNotMeasuredWithoutRedis(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	if bin, why := redisServer(options{asynq: true}); bin != "" || why != asynqMissing {
		t.Errorf("redisServer = %q, %q; want none, %q", bin, why, asynqMissing)
	}
	if bin, why := redisServer(options{asynq: false}); bin != "" || why == "" {
		t.Errorf("with -asynq=false: %q, %q; want none and a reason", bin, why)
	}
}

// Redis's CPU counts its own and its waited-for children's (the snapshots
// it forks); a process that is gone counts nothing.
func TestProcCPUWithChildren(t *testing.T) {
	// /proc counts CPU in 10 ms ticks: burn until a tick shows, for at
	// most 5 s (a fixed loop can finish between two ticks).
	busy := 0
	for deadline := time.Now().Add(5 * time.Second); procCPUWithChildren(os.Getpid()) <= 0 && time.Now().Before(deadline); {
		for i := range 1_000_000 {
			busy += i % 7
		}
	}
	_ = busy
	if v := procCPUWithChildren(os.Getpid()); v <= 0 {
		t.Errorf("this process used %.3f CPU-seconds: want some", v)
	}
	if v := procCPUWithChildren(1 << 30); v != 0 {
		t.Errorf("a process that does not exist used %.3f CPU-seconds", v)
	}
}
