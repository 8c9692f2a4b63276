package worker

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"cyberimage/services/gpu-runner/internal/storage"
	"cyberimage/shared/job"
	"cyberimage/shared/objectstore"
	"cyberimage/shared/testenv"
)

// A failed upload moves to a fresh key only when it may have reached a
// node, and never past the last key Existing looks under: an outage that
// refuses every connection keeps the key, leaving no orphan copies.
func TestNextUploadTry(t *testing.T) {
	// Nothing listens on a free port: connecting is refused.
	closedAddr := func() string { return "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)) }
	closed := closedAddr()
	hangUp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer hangUp.Close()
	putErr := func(endpoint string) error {
		client, err := objectstore.NewClient(objectstore.Config{Endpoint: endpoint, AccessKey: "k", SecretKey: "s"})
		require.NoError(t, err)
		_, err = storage.NewImages(client, "images").PutTry(context.Background(), "j", 0, 0, job.Spec{}, []byte("png"))
		require.Error(t, err)
		return err
	}
	refused, refusedAll, reached := putErr(closed), putErr(closed+","+closedAddr()), putErr(hangUp.Listener.Addr().String())

	for _, c := range []struct {
		name      string
		try, want int
		err       error
	}{
		{"refused", 0, 0, refused},
		{"refused by every node", 1, 1, refusedAll},
		{"reached a node", 0, 1, reached},
		{"timed out", 1, 2, context.DeadlineExceeded},
		{"at the last key", storage.FoundTries - 1, storage.FoundTries - 1, reached},
	} {
		require.Equal(t, c.want, nextUploadTry(c.try, c.err), "%s: %v", c.name, c.err)
	}
}
