package benchstack

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// The bench's Redis answers on loopback, keeps its files in the folder it
// is given (Redis's default snapshots), counts the commands it serves, and is gone once stopped.
func TestRedisStartsAnswersAndStops(t *testing.T) {
	bin := NeedRedis(t)
	logs, dir := t.TempDir(), t.TempDir()
	ps := NewProcs(logs, logs)
	defer ps.StopAll()
	addr, p, err := StartRedis(context.Background(), ps, "redis", bin, dir)
	if err != nil {
		t.Fatal(err)
	}
	server, err := RedisInfo(addr, "server")
	if err != nil || server["redis_version"] == "" || server["tcp_port"] == "" {
		t.Fatalf("INFO server %v (%v): want its version and port", server, err)
	}
	stats0, err := RedisInfo(addr, "stats")
	if err != nil {
		t.Fatal(err)
	}
	stats1, err := RedisInfo(addr, "stats")
	if err != nil {
		t.Fatal(err)
	}
	n0, _ := strconv.Atoi(stats0["total_commands_processed"])
	n1, _ := strconv.Atoi(stats1["total_commands_processed"])
	if n1 != n0+1 {
		t.Errorf("commands processed %d then %d: want one more (the first INFO stats)", n0, n1)
	}
	ps.StopAll()
	waitExit(t, p)
	// Redis's default persistence: it snapshots on shutdown, into dir.
	if _, err := os.Stat(filepath.Join(dir, "dump.rdb")); err != nil {
		t.Errorf("no snapshot in its folder: %v", err)
	}
	if _, err := os.Stat(ps.LogPath("redis")); err != nil {
		t.Errorf("no log: %v", err)
	}
	if _, err := redisCommand(addr, "PING"); err == nil {
		t.Error("Redis still answers after StopAll")
	}
}
