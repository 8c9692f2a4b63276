package index

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"cyberimage/shared/lifecycle"
)

// The snapshot is kept in the supervisor's state bucket as chunks (a KV
// value is bounded by the server's max payload) in two slots used in turn,
// named by a manifest written last: a reader never sees a half-written
// snapshot, and one reading while the next is written finds the chunks it
// was sent to unchanged or, at worst, a checksum that tells it to read the
// manifest again.
const (
	manifestKey     = "index-snapshot"
	chunkSize       = 256 << 10
	snapshotVersion = 1
)

// The snapshot is read from a bucket anyone with write access to it may
// fill, so its reading is bounded: maxSnapshotBytes caps the snapshot both
// packed and unpacked (a gzip bomb of a few chunks unpacks to any size),
// and maxManifestBytes the manifest. The view is a window of DefaultWindow
// jobs plus the jobs in flight, about half a kilobyte each: a gigabyte is
// two million jobs in flight. A snapshot over it is not read, and the
// index counts the bucket instead, which is slower, never wrong.
const (
	maxSnapshotBytes = 1 << 30
	maxManifestBytes = 4 << 10
)

// Why a snapshot or manifest was not taken.
var (
	errSnapshotTooLarge = errors.New("index snapshot over the size limit")
	errBadManifest      = errors.New("index snapshot manifest unreadable")
)

type manifest struct {
	Slot     string    `json:"slot"`
	Chunks   int       `json:"chunks"`
	SHA256   string    `json:"sha256"`
	Revision uint64    `json:"revision"`
	SavedAt  time.Time `json:"saved_at"`
}

func chunkKey(slot string, i int) string { return manifestKey + "." + slot + "." + strconv.Itoa(i) }

// snapshot is the view as of a revision of the record bucket.
type snapshot struct {
	Version       int       `json:"version"`
	BucketCreated time.Time `json:"bucket_created"`
	Revision      uint64    `json:"revision"`
	Tally         tally     `json:"tally"`
	InFlight      []Entry   `json:"in_flight"`
	Window        []Entry   `json:"window"`
	WindowFloor   *Cursor   `json:"window_floor,omitempty"`
}

func (x *Index) snapshot() snapshot {
	x.mu.RLock()
	defer x.mu.RUnlock()
	s := snapshot{Version: snapshotVersion, BucketCreated: x.born, Revision: x.st.revision, Tally: x.st.tally.clone(),
		InFlight: make([]Entry, 0, len(x.st.inflight)), Window: make([]Entry, 0, len(x.st.window.entries)), WindowFloor: x.st.window.floor}
	for _, e := range x.st.inflight {
		s.InFlight = append(s.InFlight, e)
	}
	for _, e := range x.st.window.entries {
		s.Window = append(s.Window, e)
	}
	return s
}

// restore makes the view the snapshot describes; base is its revision.
func (s *snapshot) restore(windowSize int) *state {
	st := newState(windowSize)
	// Counting writes to every map of the tally: one a snapshot left out
	// (an older one, or junk) starts empty instead of panicking later.
	fresh := newTally()
	st.tally = s.Tally
	if st.tally.Models == nil {
		st.tally.Models = fresh.Models
	}
	if st.tally.Created == nil {
		st.tally.Created = fresh.Created
	}
	if st.tally.Ended == nil {
		st.tally.Ended = fresh.Ended
	}
	// The per-client counts are not saved: they are the in-flight view's,
	// rebuilt with it here, once per load.
	for _, e := range s.InFlight {
		st.hold(e)
	}
	st.window.floor = s.WindowFloor
	for _, e := range s.Window {
		st.window.put(e)
	}
	st.revision, st.base = s.Revision, s.Revision
	return st
}

// Saver makes the leader's loop that saves the view: at once when it
// starts (a new leader, a view just built, once it has caught up) and
// then every saveEvery while the view changes, until it is stopped (the
// lease lost). A stopping leader saves once more (SaveNow) while it still
// holds the lease; one that lost it leaves the saving to the next, so two
// never write the slots at once.
func (x *Index) Saver() *lifecycle.Loop {
	return lifecycle.NewLoop(x.saveEvery, x.savePass, lifecycle.AtOnce())
}

// savePass is one of the Saver's passes: it waits for the view to catch
// up, then saves it if it changed.
func (x *Index) savePass(ctx context.Context) {
	select {
	case <-x.ready:
	case <-ctx.Done():
		return
	}
	x.saveIfChanged(ctx)
}

// SaveNow saves the view if it changed since the last save: the leader's
// last act when it stops, so the next start follows on from here.
func (x *Index) SaveNow(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	x.saveIfChanged(ctx)
}

func (x *Index) saveIfChanged(ctx context.Context) {
	if x.state == nil {
		return
	}
	// The Saver and SaveNow (on stop, while the lease is held) may overlap;
	// two saves at once would write the same slot.
	x.saving.Lock()
	defer x.saving.Unlock()
	select {
	case <-x.ready:
	default:
		return // a view still catching up is not one to start from
	}
	if x.Revision() == x.saved.Load() {
		return
	}
	start := time.Now()
	snap := x.snapshot()
	size, err := x.save(ctx, snap)
	if err != nil {
		x.log.Warn("saving the index snapshot failed; the next pass tries again", zap.Error(err))
		return
	}
	x.saved.Store(snap.Revision)
	x.log.Debug("index snapshot saved", zap.Uint64("revision", snap.Revision), zap.Int("bytes", size),
		zap.Duration("took", time.Since(start)))
}

// save writes the snapshot into the slot the manifest does not name, then
// the manifest.
func (x *Index) save(ctx context.Context, snap snapshot) (int, error) {
	data, err := encodeSnapshot(snap)
	if err != nil {
		return 0, err
	}
	slot := "a"
	// A manifest that does not decode names no snapshot anyone reads: it
	// is overwritten, not left to block every save after it.
	if m, err := x.manifest(ctx); err != nil && !errors.Is(err, errBadManifest) {
		return 0, err
	} else if m != nil && m.Slot == "a" {
		slot = "b"
	}
	m := manifest{Slot: slot, Revision: snap.Revision, SavedAt: time.Now().UTC()}
	sum := sha256.Sum256(data)
	m.SHA256 = hex.EncodeToString(sum[:])
	for off := 0; off < len(data); off += chunkSize {
		if _, err := x.state.Put(ctx, chunkKey(slot, m.Chunks), data[off:min(off+chunkSize, len(data))]); err != nil {
			return 0, fmt.Errorf("write snapshot chunk: %w", err)
		}
		m.Chunks++
	}
	body, err := json.Marshal(m)
	if err != nil {
		return 0, err
	}
	if _, err := x.state.Put(ctx, manifestKey, body); err != nil {
		return 0, fmt.Errorf("write snapshot manifest: %w", err)
	}
	return len(data), nil
}

func (x *Index) manifest(ctx context.Context) (*manifest, error) {
	e, err := x.state.Get(ctx, manifestKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return decodeManifest(e.Value())
}

// decodeManifest reads the manifest; errBadManifest when it is not one
// save could have written.
func decodeManifest(data []byte) (*manifest, error) {
	if len(data) > maxManifestBytes {
		return nil, fmt.Errorf("%w: %d bytes", errBadManifest, len(data))
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadManifest, err)
	}
	if (m.Slot != "a" && m.Slot != "b") || m.Chunks < 1 || m.Chunks > maxSnapshotBytes/chunkSize {
		return nil, fmt.Errorf("%w: slot %q of %d chunks", errBadManifest, m.Slot, m.Chunks)
	}
	return &m, nil
}

// load reads the latest snapshot; nil when there is none.
func (x *Index) load(ctx context.Context) (*snapshot, error) {
	if x.state == nil {
		return nil, nil
	}
	var lastErr error
	for range 3 { // a save under way may rewrite the slot being read
		m, err := x.manifest(ctx)
		if err != nil || m == nil {
			return nil, err
		}
		snap, err := x.read(ctx, m)
		if err == nil {
			return snap, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func (x *Index) read(ctx context.Context, m *manifest) (*snapshot, error) {
	var data []byte
	for i := range m.Chunks {
		e, err := x.state.Get(ctx, chunkKey(m.Slot, i))
		if err != nil {
			return nil, fmt.Errorf("read snapshot chunk %d: %w", i, err)
		}
		if len(data)+len(e.Value()) > maxSnapshotBytes {
			return nil, fmt.Errorf("read snapshot chunk %d: %w", i, errSnapshotTooLarge)
		}
		data = append(data, e.Value()...)
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != m.SHA256 {
		return nil, errors.New("snapshot checksum mismatch (rewritten while read)")
	}
	return decodeSnapshot(data, maxSnapshotBytes)
}

// encodeSnapshot packs a snapshot as save writes it.
func encodeSnapshot(snap snapshot) ([]byte, error) {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err := json.NewEncoder(zw).Encode(snap); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decodeSnapshot unpacks a snapshot, refusing one that unpacks to more
// than limit bytes (errSnapshotTooLarge) before it is all in memory.
func decodeSnapshot(data []byte, limit int64) (*snapshot, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("unpack snapshot: %w", err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, limit+1))
	if err != nil {
		return nil, fmt.Errorf("unpack snapshot: %w", err)
	}
	if int64(len(raw)) > limit {
		return nil, fmt.Errorf("unpack snapshot: over %d bytes: %w", limit, errSnapshotTooLarge)
	}
	var snap snapshot
	if err := json.Unmarshal(raw, &snap); err != nil {
		return nil, fmt.Errorf("decode snapshot: %w", err)
	}
	if snap.Version != snapshotVersion {
		return nil, fmt.Errorf("snapshot version %d, want %d", snap.Version, snapshotVersion)
	}
	return &snap, nil
}
