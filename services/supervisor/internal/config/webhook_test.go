package config

import (
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The webhook settings: off by default; with an allow list, a secret of
// at least 16 characters is required.
func TestWebhookSettings(t *testing.T) {
	c, err := Load([]string{"--dev"}, io.Discard)
	require.NoError(t, err)
	require.False(t, c.Webhook.Hosts.Enabled())
	require.Equal(t, time.Hour, c.Webhook.RetryFor)
	require.Equal(t, 16, c.Webhook.Workers)
	require.Equal(t, 4, c.Webhook.PerHost)
	require.Equal(t, 10000, c.Webhook.MaxPending)

	c, err = Load([]string{"--dev", "--webhook-allowed-hosts", "*.example.com,http://127.0.0.1:9000", "--webhook-secret", "0123456789abcdef",
		"--webhook-retry-for", "10m"}, io.Discard)
	require.NoError(t, err)
	require.True(t, c.Webhook.Hosts.Enabled())
	require.Equal(t, "0123456789abcdef", c.Webhook.Secret)
	require.Equal(t, 10*time.Minute, c.Webhook.RetryFor)

	for name, args := range map[string][]string{
		"hosts without a secret": {"--webhook-allowed-hosts", "hooks.example.com"},
		"a short secret":         {"--webhook-allowed-hosts", "hooks.example.com", "--webhook-secret", "short"},
		"a bad entry":            {"--webhook-allowed-hosts", "http://*.example.com", "--webhook-secret", "0123456789abcdef"},
		"no retry window":        {"--webhook-retry-for", "0s"},
		"more per host than all": {"--webhook-workers", "2", "--webhook-per-host", "3"},
		"no pending room":        {"--webhook-max-pending", "0"},
	} {
		_, err := Load(append([]string{"--dev"}, args...), io.Discard)
		require.Error(t, err, name)
	}
}
