package config

import (
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

// The HTTP trust settings: defaults, and the combinations refused at
// start.
func TestHTTPTrustSettings(t *testing.T) {
	c, err := Load([]string{"--dev"}, io.Discard)
	require.NoError(t, err)
	require.Empty(t, c.ReadToken, "reads are open unless a token is set")
	require.Empty(t, c.SubmitToken)
	require.Equal(t, 600, c.SubmitRate)
	require.False(t, c.HTTPTLS.Enabled())

	c, err = Load([]string{"--dev", "--read-token", "r", "--submit-token", "s", "--admin-token", "a", "--submit-rate", "0"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, "r", c.ReadToken)
	require.Equal(t, "s", c.SubmitToken)
	require.Zero(t, c.SubmitRate, "0 turns the limit off")

	for name, args := range map[string][]string{
		"read token is the admin token":   {"--read-token", "a", "--admin-token", "a"},
		"submit token is the admin token": {"--submit-token", "a", "--admin-token", "a"},
		"negative rate":                   {"--submit-rate", "-1"},
		"certificate without its key":     {"--http-tls-cert", "cert.pem"},
		"a certificate that is not there": {"--http-tls-cert", "nope.pem", "--http-tls-key", "nope.pem"},
	} {
		_, err := Load(append([]string{"--dev"}, args...), io.Discard)
		require.Error(t, err, name)
	}
}
