package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
)

// publish sends payload on the requests subject without waiting for an
// answer, as `nats pub` would.
func publish(t testing.TB, nc *nats.Conn, payload string) {
	t.Helper()
	require.NoError(t, nc.Publish(bus.SubjectRequests, []byte(payload)))
}

// request sends payload on the requests subject, as a client would, and
// returns ingest's answer.
func request(t testing.TB, nc *nats.Conn, payload string) bus.RequestReply {
	t.Helper()
	return askOn(t, nc, bus.SubjectRequests, payload)
}

// askOn sends a request on subject and returns ingest's answer.
func askOn(t testing.TB, nc *nats.Conn, subject, payload string) bus.RequestReply {
	t.Helper()
	msg, err := nc.Request(subject, []byte(payload), 10*time.Second)
	require.NoError(t, err, "no answer on %s to %s", subject, payload)
	r, err := bus.DecodeRequestReply(msg.Data)
	require.NoError(t, err, string(msg.Data))
	return r
}

func fmtReq(prompt string, w, h, n int, extra string) string {
	return fmt.Sprintf(`{"prompt":%q,"width":%d,"height":%d,"num_images":%d%s}`, prompt, w, h, n, extra)
}
