package intake

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

// TestAnswersOnlyClientInboxes: a request whose reply subject names a job
// record, a lease or a work subject is still made a job, but ingest writes
// nothing there (on a server without auth, so nothing but ingest's own
// check stands in the way) and counts the refusal.
func TestAnswersOnlyClientInboxes(t *testing.T) {
	b := setup(t)
	b.start()
	defer b.stop()
	ctx := context.Background()

	victim := b.request(t, `{"prompt":"the victim"}`)
	before, rev, err := b.store.Get(ctx, victim.JobID)
	require.NoError(t, err)

	targets := []string{bus.RecordSubject(victim.JobID), "$KV." + bus.BucketLeases + ".supervisor-leader",
		bus.JobSubject("demo", "forged"), bus.DLQSubject("demo", "forged"), "_INBOX.runner.gpu-0.x", "_INBOX.ABC"}
	watch, err := b.nc.SubscribeSync(">")
	require.NoError(t, err)
	for i, reply := range targets {
		require.NoError(t, b.client.PublishMsg(&nats.Msg{Subject: bus.SubjectRequests, Reply: reply,
			Data: []byte(`{"prompt":"deputy","request_id":"deputy-` + string(rune('a'+i)) + `"}`)}))
	}
	// Each request still becomes a job.
	for i := range targets {
		id := job.IDForRequestID("deputy-" + string(rune('a'+i)))
		require.Eventually(t, func() bool {
			rec, _, err := b.store.Get(ctx, id)
			return err == nil && rec.Status == job.StatusQueued
		}, 10*time.Second, 20*time.Millisecond, "request %d became no job", i)
	}
	require.Eventually(t, func() bool { return dropped(b.stats, "reply_subject_refused") == uint64(len(targets)) },
		5*time.Second, 20*time.Millisecond)
	// Nothing was published on any of the reply subjects.
	for {
		m, err := watch.NextMsg(200 * time.Millisecond)
		if err != nil {
			break
		}
		for _, reply := range targets {
			require.NotEqual(t, reply, m.Subject, "ingest answered on a subject the requester chose")
		}
	}
	after, rev2, err := b.store.Get(ctx, victim.JobID)
	require.NoError(t, err)
	require.Equal(t, rev, rev2, "the victim's record was written")
	require.Equal(t, before.Status, after.Status)
}
