package testenv

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
)

func TestNATSRestartKeepsStreams(t *testing.T) {
	n := StartNATS(t)
	_, js := n.Connect(t)
	ctx := context.Background()
	kv, err := js.CreateKeyValue(ctx, jetstreamKV("t"))
	require.NoError(t, err)
	_, err = kv.Put(ctx, "k", []byte("v"))
	require.NoError(t, err)
	n.Restart()
	_, js = n.Connect(t)
	kv, err = js.KeyValue(ctx, "t")
	require.NoError(t, err)
	e, err := kv.Get(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, "v", string(e.Value()))
}

func TestMinIOPutGet(t *testing.T) {
	m := StartMinIO(t)
	c := m.Client(t)
	ctx := context.Background()
	_, err := c.PutObject(ctx, m.Config.Bucket, "a/b.txt", bytes.NewReader([]byte("hi")), 2, minio.PutObjectOptions{})
	require.NoError(t, err)
	m.Stop()
	m.Start()
	info, err := c.StatObject(ctx, m.Config.Bucket, "a/b.txt", minio.StatObjectOptions{})
	require.NoError(t, err)
	require.EqualValues(t, 2, info.Size)
}

func jetstreamKV(name string) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{Bucket: name, Storage: jetstream.FileStorage}
}

func TestRaceRunsEveryWriterAndWaits(t *testing.T) {
	var seen [8]atomic.Bool
	Race(len(seen), func(i int) { seen[i].Store(true) })
	for i := range seen {
		require.True(t, seen[i].Load(), "writer %d ran before Race returned", i)
	}
}
