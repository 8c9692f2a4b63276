package benchstack

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// StartRedis runs redis-server (bin) as the child name on a free loopback
// port with its files in dir and Redis's own defaults otherwise (no config
// file: RDB snapshots at the default save points, no append-only file), and
// waits until it answers PING. It is stopped with procs, by PID.
func StartRedis(ctx context.Context, procs *Procs, name, bin, dir string) (addr string, p *Proc, err error) {
	port, err := FreePort()
	if err != nil {
		return "", nil, err
	}
	addr = "127.0.0.1:" + strconv.Itoa(port)
	p, err = procs.Start(name, bin, []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir}, nil)
	if err != nil {
		return "", nil, err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		reply, err := redisCommand(addr, "PING")
		if err == nil && reply == "PONG" {
			return addr, p, nil
		}
		if time.Now().After(deadline) {
			return "", p, fmt.Errorf("%s not answering PING after 10s (see its log): %v", name, err)
		}
		select {
		case <-ctx.Done():
			return "", p, ctx.Err()
		case <-p.exited:
			return "", p, fmt.Errorf("%s exited before it was ready (see its log)", name)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// RedisInfo reads one section of INFO from the server at addr, as fields
// by name (e.g. "total_commands_processed" of "stats").
func RedisInfo(addr, section string) (map[string]string, error) {
	reply, err := redisCommand(addr, "INFO "+section)
	if err != nil {
		return nil, err
	}
	fields := map[string]string{}
	for line := range strings.SplitSeq(reply, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			fields[k] = v
		}
	}
	return fields, nil
}

// redisCommand sends one inline command on a fresh connection and reads a
// simple-string or bulk-string reply: all PING and INFO need, with no
// client library.
func redisCommand(addr, command string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, command+"\r\n"); err != nil {
		return "", err
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	switch {
	case strings.HasPrefix(line, "+"):
		return line[1:], nil
	case strings.HasPrefix(line, "$"):
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", fmt.Errorf("redis %s: reply %q", command, line)
		}
		body := make([]byte, n+2)
		if _, err := io.ReadFull(r, body); err != nil {
			return "", err
		}
		return string(body[:n]), nil
	}
	return "", fmt.Errorf("redis %s: reply %q", command, line)
}
