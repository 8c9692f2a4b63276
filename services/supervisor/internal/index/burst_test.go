package index

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/natsauth"
	"cyberimage/shared/testenv"
)

// TestCatchesUpABurstUnderItsOwnCredentials: a backlog far larger than the
// watch's flow-control window (a supervisor down for an hour of a busy
// farm) is counted in full by an index connected with the supervisor
// role's own credentials. Without the right to answer the server's
// flow-control requests the watch stalled for good a few thousand records
// in, and the index never became ready.
func TestCatchesUpABurstUnderItsOwnCredentials(t *testing.T) {
	const burst = 30000
	n := testenv.StartNATSWithAuth(t)
	n.Provisioned(t)
	// The backlog is written as ingest writes records, with its own creds.
	_, writer := n.ConnectAs(t, natsauth.Ingest)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	created := time.Now().Add(-time.Hour)
	// In batches the client's window of unacknowledged publishes holds:
	// past it a publish fails after a short stall, which a slow machine
	// (-race) reached.
	const batch = 1000
	for i := range burst {
		rec := job.Record{JobID: fmt.Sprintf("J%06d", i), Status: job.StatusQueued, CreatedAt: created,
			Spec: job.Spec{Model: "demo", Prompt: "a burst of work, padded to a realistic record size: " + fmt.Sprint(i)}}
		data, err := json.Marshal(rec)
		require.NoError(t, err)
		_, err = writer.PublishAsync(bus.RecordSubject(rec.JobID), data)
		require.NoError(t, err)
		if (i+1)%batch != 0 && i+1 != burst {
			continue
		}
		select {
		case <-writer.PublishAsyncComplete():
		case <-ctx.Done():
			t.Fatalf("the burst was not stored: %d of %d sent", i+1, burst)
		}
	}

	_, js := n.ConnectAs(t, natsauth.Supervisor)
	kv, err := js.KeyValue(ctx, bus.BucketJobs)
	require.NoError(t, err)
	x := New(kv, zaptest.NewLogger(t))
	require.NoError(t, x.Start(ctx))
	defer x.Stop(ctx)
	select {
	case <-x.Ready():
	case <-time.After(2 * time.Minute):
		t.Fatalf("not ready 2 min after start: counted %d of %d", x.Counts().Total, burst)
	}
	require.Equal(t, burst, x.Counts().Pending)
	require.Equal(t, burst, x.Counts().Total)
}
