package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"cyberimage/shared/job"
	"cyberimage/shared/natsauth"
	"cyberimage/shared/testenv"
)

// TestPipelineOverTLS: with the NATS server requiring TLS (and
// credentials), every service connects through CYBERIMAGE_NATS_TLS_CA and
// jobs complete; a client that does not trust the server's CA, or has no
// credentials, is turned away.
func TestPipelineOverTLS(t *testing.T) {
	s := newStackOn(t, testenv.StartNATSWithTLS(t))
	s.startServices("runner-tls")
	var ids []string
	for i := range 3 {
		ids = append(ids, request(t, s.client, fmtReq(fmt.Sprintf("over tls %d", i), 64, 64, 1, "")).JobID)
	}
	recs := s.waitEnded(3, time.Minute)
	for _, id := range ids {
		require.Equal(t, job.StatusCompleted, recs[id].Status)
		checkImages(t, s, recs[id])
	}

	_, err := nats.Connect(s.nats.URL(), nats.UserCredentials(s.creds(natsauth.Client)), nats.Timeout(2*time.Second))
	require.Error(t, err, "a client that does not trust the CA is refused")
	_, err = nats.Connect(s.nats.URL(), nats.RootCAs(s.nats.CAFile), nats.Timeout(2*time.Second))
	require.Error(t, err, "a client without credentials is refused")
	nc, err := nats.Connect(s.nats.URL(), nats.RootCAs(s.nats.CAFile), nats.UserCredentials(s.creds(natsauth.Client)))
	require.NoError(t, err, "the client role over TLS")
	nc.Close()
}
