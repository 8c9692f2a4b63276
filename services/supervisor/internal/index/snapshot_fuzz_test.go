package index

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"cyberimage/shared/job"
)

// realSnapshot is a snapshot as save writes one: a tally that counted
// jobs of every fate, jobs in flight with their deliveries, a window with
// its floor.
func realSnapshot() snapshot {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	st := newState(4)
	for i, s := range []job.Status{job.StatusQueued, job.StatusProcessing, job.StatusCompleted, job.StatusFailed, job.StatusCancelled, job.StatusRejected} {
		rec := job.Record{JobID: fmt.Sprintf("J%d", i), Status: s, Spec: job.Spec{Model: "demo", Prompt: "a cat"}, CreatedAt: now.Add(-time.Minute),
			StartedAt: job.UTC(now.Add(-time.Minute)), CompletedAt: job.UTC(now), Runner: "host-1"}
		if s == job.StatusProcessing {
			rec.Delivery = &job.Delivery{StreamSeq: 7, Delivered: 1, Runner: "host-1", StartedAt: now}
		}
		body, _ := json.Marshal(rec)
		if _, _, err := st.apply(newChange(rec.JobID, uint64(i+1), now, jetstream.KeyValuePut, body), now); err != nil {
			panic(err)
		}
	}
	return snapshot{Version: snapshotVersion, BucketCreated: now.Add(-time.Hour), Revision: st.revision, Tally: st.tally.clone(),
		InFlight: mapValues(st.inflight), Window: mapValues(st.window.entries), WindowFloor: &Cursor{CreatedAt: now.Add(-time.Hour), JobID: "J0"}}
}

func mapValues(m map[string]Entry) []Entry {
	out := make([]Entry, 0, len(m))
	for _, e := range m {
		out = append(out, e)
	}
	return out
}

func gzipped(t testing.TB, raw []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A snapshot that unpacks past the limit is refused once the limit is
// read, whatever it claims to hold: a few kilobytes of gzip that unpack
// to 16 MiB of a valid-looking JSON string.
func TestDecodeSnapshotRefusesAGzipBomb(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = io.WriteString(zw, `{"version":1,"in_flight":[{"Prompt":"`)
	filler := bytes.Repeat([]byte("a"), 1<<20)
	for range 16 {
		_, _ = zw.Write(filler)
	}
	_, _ = io.WriteString(zw, `"}]}`)
	require.NoError(t, zw.Close())
	require.Less(t, buf.Len(), 64<<10, "the bomb is small packed")

	const limit = 1 << 20
	_, err := decodeSnapshot(buf.Bytes(), limit)
	require.ErrorIs(t, err, errSnapshotTooLarge)

	// The same limit takes a real snapshot.
	data, err := encodeSnapshot(realSnapshot())
	require.NoError(t, err)
	got, err := decodeSnapshot(data, limit)
	require.NoError(t, err)
	require.Len(t, got.InFlight, 2)
	// And one exactly at the limit.
	raw, _ := json.Marshal(snapshot{Version: snapshotVersion})
	raw = append(raw, bytes.Repeat([]byte(" "), limit-len(raw))...)
	_, err = decodeSnapshot(gzipped(t, raw), limit)
	require.NoError(t, err)
	_, err = decodeSnapshot(gzipped(t, append(raw, ' ')), limit)
	require.ErrorIs(t, err, errSnapshotTooLarge)
}

func TestDecodeManifestRefusesWhatSaveNeverWrites(t *testing.T) {
	t.Parallel()
	good := `{"slot":"b","chunks":2,"sha256":"00","revision":9}`
	m, err := decodeManifest([]byte(good))
	require.NoError(t, err)
	require.Equal(t, manifest{Slot: "b", Chunks: 2, SHA256: "00", Revision: 9}, *m)
	for _, bad := range []string{"", "null", "[]", `{"slot":"c","chunks":1}`, `{"slot":"a","chunks":0}`, `{"slot":"a","chunks":-1}`,
		fmt.Sprintf(`{"slot":"a","chunks":%d}`, maxSnapshotBytes/chunkSize+1), `{"slot":"a","chunks":1,"sha256":"` + strings.Repeat("0", maxManifestBytes) + `"}`} {
		_, err := decodeManifest([]byte(bad))
		require.ErrorIs(t, err, errBadManifest, "%.40s", bad)
	}
}

// A manifest that does not decode names nothing to read: the next save
// writes over it instead of failing on it forever.
func TestSaveWritesOverAnUnreadableManifest(t *testing.T) {
	t.Parallel()
	b := newBucket(t, 30*time.Second)
	ctx := b.ctx
	_, err := b.state.Put(ctx, manifestKey, []byte(`{"slot":"../../x","chunks":1e9}`))
	require.NoError(t, err)
	x := b.index(t, WithSnapshots(b.state))
	_, err = x.load(ctx)
	require.ErrorIs(t, err, errBadManifest)

	snap := realSnapshot()
	_, err = x.save(ctx, snap)
	require.NoError(t, err)
	got, err := x.load(ctx)
	require.NoError(t, err)
	require.Equal(t, snap.Revision, got.Revision)
	require.ElementsMatch(t, snap.InFlight, got.InFlight)
}

// fuzzSnapshotLimit keeps each input's unpacking small; the limit's own
// behaviour is the bomb test's.
const fuzzSnapshotLimit = 1 << 20

// FuzzDecodeSnapshot: no snapshot makes decoding, restoring, or counting
// on from the restored view panic; what decodes is within the limit and
// round-trips through save's encoding. Half the inputs are JSON packed
// here, so the fuzzer explores the snapshot, not only gzip's checksums.
func FuzzDecodeSnapshot(f *testing.F) {
	real, _ := json.Marshal(realSnapshot())
	f.Add(real, false)
	packed, _ := encodeSnapshot(realSnapshot())
	f.Add(packed, true)
	for _, s := range []string{`{"version":1}`, `{"version":1,"tally":{"models":{}}}`, `{"version":1,"tally":{"models":{"":{"pending":-1}}}}`,
		`{"version":1,"window":[{"JobID":"a"},{"JobID":"a"}],"window_floor":{}}`, `{"version":2}`, "null", "[]", ""} {
		f.Add([]byte(s), false)
	}
	f.Add([]byte("\x1f\x8b"), true)
	f.Fuzz(func(t *testing.T, data []byte, isPacked bool) {
		if !isPacked {
			data = gzipped(t, data)
		}
		snap, err := decodeSnapshot(data, fuzzSnapshotLimit)
		if err != nil {
			return
		}
		if n := unpackedSize(t, data); n > fuzzSnapshotLimit {
			t.Fatalf("accepted a snapshot of %d bytes unpacked", n)
		}
		again, err := encodeSnapshot(*snap)
		if err != nil {
			return // a time JSON cannot hold: nothing save would write
		}
		snap2, err := decodeSnapshot(again, maxSnapshotBytes)
		if err != nil {
			t.Fatalf("own encoding refused: %v", err)
		}
		once, _ := json.Marshal(snap)
		twice, _ := json.Marshal(snap2)
		if !bytes.Equal(once, twice) {
			t.Fatalf("round trip changed the snapshot:\n%s\n%s", once, twice)
		}
		countOn(t, snap.restore(3))
	})
}

// unpackedSize is how many bytes data unpacks to, up to one past the
// fuzzing limit.
func unpackedSize(t *testing.T, data []byte) int64 {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("accepted data that is not gzip: %v", err)
	}
	n, _ := io.Copy(io.Discard, io.LimitReader(zr, fuzzSnapshotLimit+1))
	return n
}

// countOn applies a job's whole life to a restored view, and reads it.
func countOn(t *testing.T, st *state) {
	now := time.Date(2026, 12, 1, 10, 5, 0, 0, time.UTC)
	rev := st.revision
	for _, s := range []job.Status{job.StatusQueued, job.StatusProcessing, job.StatusCompleted} {
		rev++
		body, _ := json.Marshal(job.Record{JobID: "J0", Status: s, Spec: job.Spec{Model: "demo"}, CreatedAt: now, StartedAt: job.UTC(now), CompletedAt: job.UTC(now)})
		if _, _, err := st.apply(newChange("J0", rev, now, jetstream.KeyValuePut, body), now); err != nil {
			t.Fatal(err)
		}
	}
	st.apply(newChange("J1", rev+1, now, jetstream.KeyValueDelete, nil), now)
	st.tally.prune(now)
	_ = st.tally.detailed(now)
	clientsMirrorInFlight(t, st)
}

// clientsMirrorInFlight: the per-client counts, kept change by change,
// are what counting the in-flight view afresh gives.
func clientsMirrorInFlight(t *testing.T, st *state) {
	t.Helper()
	want := inFlightByClient{}
	for _, e := range st.inflight {
		want.count(e, 1)
	}
	if !maps.Equal(want, st.clients) {
		t.Fatalf("per-client counts %v, the in-flight view counts %v", st.clients, want)
	}
}

// FuzzDecodeManifest: no manifest makes decoding panic; what decodes
// names a slot save uses and a chunk count the reader will read, and
// round-trips.
func FuzzDecodeManifest(f *testing.F) {
	real, _ := json.Marshal(manifest{Slot: "a", Chunks: 3, SHA256: strings.Repeat("ab", 32), Revision: 42, SavedAt: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)})
	f.Add(real)
	for _, s := range []string{"", "null", `{"slot":"b","chunks":1}`, `{"slot":"a","chunks":99999999999}`, `{"slot":"a","chunks":1.5}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeManifest(data)
		if err != nil {
			if !errors.Is(err, errBadManifest) {
				t.Fatalf("refused without errBadManifest: %v", err)
			}
			return
		}
		if (m.Slot != "a" && m.Slot != "b") || m.Chunks < 1 || m.Chunks*chunkSize > maxSnapshotBytes || len(data) > maxManifestBytes {
			t.Fatalf("accepted %+v", m)
		}
		once, err := json.Marshal(m)
		if err != nil {
			return
		}
		again, err := decodeManifest(once)
		if err != nil {
			t.Fatalf("own encoding %s refused: %v", once, err)
		}
		if twice, _ := json.Marshal(again); !bytes.Equal(once, twice) {
			t.Fatalf("round trip changed the manifest:\n%s\n%s", once, twice)
		}
	})
}
