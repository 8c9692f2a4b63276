package config

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestPrecedenceFlagOverEnvOverDefault(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	l := NewLoaderWithEnv("x", &out, envOf(map[string]string{"CYBERIMAGE_ACK_WAIT": "5s", "CYBERIMAGE_RUNNERS": "3"}))
	var ackWait, stalled time.Duration
	var runners, slots int
	l.Duration(&ackWait, "ack-wait", time.Minute, "")
	l.Duration(&stalled, "max-stalled-time", 15*time.Minute, "")
	l.Int(&runners, "runners", 2, "")
	l.Int(&slots, "slots", 1, "")
	require.NoError(t, l.Parse([]string{"-runners", "4"}))
	require.Equal(t, 5*time.Second, ackWait)
	require.Equal(t, 15*time.Minute, stalled)
	require.Equal(t, 4, runners)
	require.Equal(t, 1, slots)
}

func TestBadValuesAllReported(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	l := NewLoaderWithEnv("x", &out, envOf(map[string]string{"CYBERIMAGE_ACK_WAIT": "soon", "CYBERIMAGE_RUNNERS": "two"}))
	var d time.Duration
	var n int
	l.Duration(&d, "ack-wait", time.Minute, "")
	l.Int(&n, "runners", 2, "")
	err := l.Parse(nil)
	require.ErrorContains(t, err, "CYBERIMAGE_ACK_WAIT")
	require.ErrorContains(t, err, "CYBERIMAGE_RUNNERS")
}

func TestHelpListsEnvNames(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	l := NewLoaderWithEnv("x", &out, envOf(nil))
	var s string
	l.String(&s, "nats-url", "nats://127.0.0.1:4222", "NATS server")
	require.ErrorIs(t, l.Parse([]string{"--help"}), ErrHelp)
	require.Contains(t, out.String(), "CYBERIMAGE_NATS_URL")
	require.Contains(t, out.String(), "nats://127.0.0.1:4222")
}

// A parsed setting is read by its parser after Parse, from the flag or the
// environment, and a bad one is reported under its variable's name.
func TestParsedSetting(t *testing.T) {
	t.Parallel()
	split := func(s string) ([]string, error) {
		if s == "bad" {
			return nil, errors.New("not a list")
		}
		return strings.Fields(s), nil
	}
	l := NewLoaderWithEnv("x", io.Discard, envOf(map[string]string{"CYBERIMAGE_HOSTS": "a b"}))
	p := BindParsed(l, "hosts", "", split)
	require.NoError(t, l.Parse(nil))
	p.Check(l)
	require.NoError(t, l.Err())
	require.Equal(t, []string{"a", "b"}, p.Value)

	l = NewLoaderWithEnv("x", io.Discard, envOf(nil))
	p = BindParsed(l, "hosts", "", split)
	require.NoError(t, l.Parse([]string{"--hosts", "bad"}))
	p.Check(l)
	require.ErrorContains(t, l.Err(), "CYBERIMAGE_HOSTS: not a list")
}
