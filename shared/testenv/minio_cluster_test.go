package testenv

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/require"
)

// A client of every node keeps reading and writing through the loss of the
// node it was using, and the deployment needs 3 of its 4 nodes to write.
func TestMinIOClusterSurvivesANode(t *testing.T) {
	c := StartMinIOCluster(t, 4)
	resp, err := http.Get("http://" + c.Addr(1) + "/minio/health/cluster")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, "3", resp.Header.Get("X-Minio-Write-Quorum"), "EC:2 on 4 drives")

	client := c.Client(t)
	ctx := context.Background()
	put := func(key string) {
		t.Helper()
		_, err := client.PutObject(ctx, c.Config.Bucket, key, bytes.NewReader([]byte(key)), int64(len(key)), minio.PutObjectOptions{})
		require.NoError(t, err, key)
	}
	get := func(key string) {
		t.Helper()
		obj, err := client.GetObject(ctx, c.Config.Bucket, key, minio.GetObjectOptions{})
		require.NoError(t, err, key)
		data, err := io.ReadAll(obj)
		obj.Close()
		require.NoError(t, err, key)
		require.Equal(t, key, string(data))
	}
	put("before")
	c.Kill(0) // the node the client dials first
	get("before")
	put("during")
	get("during")
	c.Start(0)
	put("after")
	get("after")
}
