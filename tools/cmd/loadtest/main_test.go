package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseOptions(t *testing.T) {
	o, err := parseOptions([]string{"--test", "all", "--jobs", "5", "--supervisor", "127.0.0.1:9"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, []string{"load", "stall", "chaos"}, o.tests)
	require.Equal(t, "http://127.0.0.1:9", o.supervisor)
	require.Equal(t, 5*time.Minute, o.timeout)

	for _, args := range [][]string{
		{},
		{"--test", "soak"},
		{"--test", "load", "--jobs", "0"},
		{"--test", "load", "--jobs", "10001"},
		{"--test", "load", "--timeout", "0s"},
		{"--test", "load", "--supervisor", "ftp://x"},
		{"--test", "load", "--hang-marker", " "},
		{"--test", "load", "--hang-marker", "koi"}, // in the ordinary prompts
		{"--test", "load", "extra"},
	} {
		_, err := parseOptions(args, io.Discard)
		require.Error(t, err, "%v", args)
		require.False(t, errors.Is(err, flag.ErrHelp))
	}
	_, err = parseOptions([]string{"--nope"}, io.Discard)
	require.ErrorIs(t, err, errReported)
	_, err = parseOptions([]string{"--help"}, io.Discard)
	require.ErrorIs(t, err, flag.ErrHelp)
}

func TestReportTableAndVerdict(t *testing.T) {
	var out bytes.Buffer
	r := newReport(&out)
	r.check("load: all completed", true, "%d/%d", 3, 3)
	require.False(t, r.failed())
	r.check("load: JOBS stream drained", false, "2 messages left")
	r.figure("load: throughput", "1.00 jobs/s")
	require.True(t, r.failed())
	r.summary()
	lines := strings.Split(out.String(), "\n")
	var table []string
	for _, l := range lines {
		if strings.HasPrefix(l, "| ") {
			table = append(table, l)
		}
	}
	require.Equal(t, []string{
		"| check                     | result | detail          |",
		"| ------------------------- | ------ | --------------- |",
		"| load: all completed       | PASS   | 3/3             |",
		"| load: JOBS stream drained | FAIL   | 2 messages left |",
		"| figure           | value       |",
		"| ---------------- | ----------- |",
		"| load: throughput | 1.00 jobs/s |",
	}, table)
	require.Contains(t, out.String(), "1 of 2 checks passed")
	require.True(t, newReport(io.Discard).failed(), "a run with no checks did not pass")
}

func TestOrdinaryRequestsAreValidAndUnique(t *testing.T) {
	seen := map[string]bool{}
	for i := range 50 {
		r := ordinaryRequest("lt1", "load", i)
		require.Zero(t, r.Width%8)
		require.Zero(t, r.Height%8)
		require.True(t, r.NumImages >= 1 && r.NumImages <= 8)
		require.False(t, seen[r.jobID()])
		seen[r.jobID()] = true
		require.True(t, strings.HasPrefix(r.RequestID, "lt1-load-"))
	}
	require.Contains(t, stallRequest("lt1", "HANG", 1, 0).Prompt, "HANG")
}
