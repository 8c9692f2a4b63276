package main

import (
	"bytes"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/natsauth"
	"cyberimage/shared/testenv"
)

// TestSubmitSendsAsItsClient: submit publishes on the subject of the
// client its credentials name (the server allows a client no other but
// the bare one), or of --client; a quota refusal exits 3 with the client,
// the code and the retry hint; a request admitted prints its job id.
// Ingest is played by a subscriber with ingest's credentials that answers
// by subject.
func TestSubmitSendsAsItsClient(t *testing.T) {
	n := testenv.StartNATSWithAuth(t)
	answers := map[string]bus.RequestReply{
		bus.SubjectRequests: {JobID: "JOB-DEFAULT", Status: job.StatusQueued},
		bus.RequestSubject("alice"): {Status: job.StatusRejected, Error: &bus.RequestError{Code: job.CodeQuotaExceeded,
			Message: "client alice has 2 jobs queued, its limit", RetryAfterS: 7}},
		bus.RequestSubject("bob"): {Status: job.StatusRejected, Error: &bus.RequestError{Code: job.CodeRateLimited,
			Message: "client bob had 5 requests accepted in the last minute, its limit"}},
	}
	ingest, _ := n.ConnectAs(t, natsauth.Ingest)
	for _, subject := range []string{bus.SubjectRequests, bus.SubjectRequestsAll} {
		_, err := ingest.Subscribe(subject, func(m *nats.Msg) {
			answer, ok := answers[m.Subject]
			assert.True(t, ok, "a request on %s", m.Subject)
			assert.NoError(t, m.Respond(bus.EncodeRequestReply(answer)))
		})
		require.NoError(t, err)
	}
	require.NoError(t, ingest.Flush())

	submit := func(creds string, extra ...string) (int, string) {
		var out, errOut bytes.Buffer
		args := append([]string{"--supervisor", "http://127.0.0.1:1", "submit", "--nats-url", n.URL(), "--creds", creds,
			"--prompt", "p"}, extra...)
		code := run(args, &out, &errOut)
		return code, out.String() + errOut.String()
	}
	alice := n.Creds(t, natsauth.Client, "alice")
	code, text := submit(alice)
	require.Equal(t, 3, code, text)
	require.Contains(t, text, "quota_exceeded (client alice, retry after 7s): client alice has 2 jobs queued, its limit")

	code, text = submit(n.Creds(t, natsauth.Client, "bob"))
	require.Equal(t, 3, code, text)
	require.Contains(t, text, "rate_limited (client bob, retry later)", "no hint given: none made up")

	code, text = submit(n.Creds(t, natsauth.Client, natsauth.DefaultName(natsauth.Client)))
	require.Equal(t, 0, code, text)
	require.Contains(t, text, "JOB-DEFAULT", "the default client's request goes on the bare subject")

	code, text = submit(alice, "--client", "default")
	require.Equal(t, 0, code, text)
	require.Contains(t, text, "JOB-DEFAULT", "--client default: alice in the shared pool")

	code, text = submit(alice, "--client", "a.b")
	require.Equal(t, 2, code, text)
	require.Contains(t, text, "--client")
}

// TestRequestSubject: which subject each identity's request goes on,
// read from the credentials' user JWT, not their file name.
func TestRequestSubject(t *testing.T) {
	auth, err := natsauth.New()
	require.NoError(t, err)
	dir := t.TempDir()
	issue := func(r natsauth.Role, name string) string {
		path, err := auth.SaveCreds(dir, r, name, natsauth.DefaultExpiry)
		require.NoError(t, err)
		return path
	}
	for _, tc := range []struct {
		o    submitOptions
		want string
	}{
		{submitOptions{creds: issue(natsauth.Client, "alice")}, "cyberimage.requests.alice"},
		{submitOptions{creds: issue(natsauth.Client, "default")}, "cyberimage.requests"},
		{submitOptions{creds: issue(natsauth.Admin, "admin")}, "cyberimage.requests"},
		{submitOptions{creds: dir + "/absent.creds"}, "cyberimage.requests"},
		{submitOptions{creds: issue(natsauth.Client, "alice"), client: "bob"}, "cyberimage.requests.bob"},
		{submitOptions{creds: issue(natsauth.Client, "alice"), client: "default"}, "cyberimage.requests"},
	} {
		got, err := requestSubject(tc.o)
		require.NoError(t, err, "%+v", tc.o)
		require.Equal(t, tc.want, got, "%+v", tc.o)
	}
	_, err = requestSubject(submitOptions{client: "http:admin"})
	require.ErrorIs(t, err, errUsage, "no client may pose as an HTTP token")
}
