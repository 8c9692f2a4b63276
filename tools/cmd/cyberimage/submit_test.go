package main

import (
	"encoding/json"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSubmitFlagsMapOntoTheRequest: what submit publishes for its flags;
// flags not given stay out of the JSON, so ingest applies its defaults.
func TestSubmitFlagsMapOntoTheRequest(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--prompt", "p", "--request-id", "r"}, `{"prompt":"p","request_id":"r"}`},
		{[]string{"--prompt", "p", "--request-id", "r", "--priority", "high", "--expires-in", "90", "--callback-url", "http://hooks.test/done"},
			`{"prompt":"p","request_id":"r","priority":"high","expires_in":90,"callback_url":"http://hooks.test/done"}`},
		{[]string{"--prompt", "p", "--request-id", "r", "--priority", "low", "--deadline", "2030-01-01T00:00:00Z"},
			`{"prompt":"p","request_id":"r","priority":"low","deadline":"2030-01-01T00:00:00Z"}`},
		// An explicit zero is sent, for ingest to reject it.
		{[]string{"--prompt", "p", "--request-id", "r", "--expires-in", "0", "--width", "512"},
			`{"prompt":"p","width":512,"request_id":"r","expires_in":0}`},
	} {
		req, _, err := parseSubmit(tc.args, io.Discard)
		require.NoError(t, err, "%v", tc.args)
		got, err := json.Marshal(req)
		require.NoError(t, err)
		require.JSONEq(t, tc.want, string(got), "%v", tc.args)
	}
	_, _, err := parseSubmit([]string{"--expires-in", "soon"}, io.Discard)
	require.ErrorIs(t, err, errUsage)
}
