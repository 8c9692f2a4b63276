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

// Client tokens and quotas: parsed, and the tokens refused when a name is
// not an identity's or a token is another's.
func TestClientSettings(t *testing.T) {
	c, err := Load([]string{"--dev", "--client-tokens", "alice=tok-a, bob=tok-b", "--quotas", "*=100/60 alice=1000/600"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"alice": "tok-a", "bob": "tok-b"}, c.Clients.Tokens)
	require.Equal(t, 1000, c.Clients.Quotas.For("alice").MaxQueued)
	require.Equal(t, 60, c.Clients.Quotas.For("bob").PerMinute)

	c, err = Load([]string{"--dev"}, io.Discard)
	require.NoError(t, err)
	require.Empty(t, c.Clients.Tokens)
	require.False(t, c.Clients.Quotas.Enabled())

	for name, args := range map[string][]string{
		"not name=token":           {"--client-tokens", "alice"},
		"an empty token":           {"--client-tokens", "alice="},
		"a name no identity has":   {"--client-tokens", "al.ice=t"},
		"a name given twice":       {"--client-tokens", "alice=t1 alice=t2"},
		"two clients, one token":   {"--client-tokens", "alice=t bob=t"},
		"the submit token":         {"--client-tokens", "alice=s", "--submit-token", "s"},
		"the admin token":          {"--client-tokens", "alice=a", "--admin-token", "a"},
		"the read token":           {"--client-tokens", "alice=r", "--read-token", "r"},
		"a quota that is no quota": {"--quotas", "alice=lots"},
	} {
		_, err := Load(append([]string{"--dev"}, args...), io.Discard)
		require.Error(t, err, name)
		require.NotContains(t, err.Error(), "=t", "%s: no token in the message", name)
	}
}
