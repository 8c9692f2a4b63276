package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"cyberimage/services/gpu-runner/internal/ort"
	"cyberimage/shared/job"
	"cyberimage/shared/models"
)

// fakeGen records whether it was closed.
type fakeGen struct {
	name   string
	mu     sync.Mutex
	closed bool
}

func (f *fakeGen) Generate(context.Context, job.Spec, Progress) ([]Image, error) { return nil, nil }
func (f *fakeGen) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}
func (f *fakeGen) isClosed() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.closed }

// catalogOf writes models whose files weigh the given bytes.
func catalogOf(t *testing.T, sizes map[string]int) *models.Catalog {
	t.Helper()
	dir := t.TempDir()
	for name, size := range sizes {
		md := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(md, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(md, "manifest.json"),
			[]byte(`{"name":"`+name+`","pipeline":"fake","file":"w.bin","steps":{"default":1}}`), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(md, "w.bin"), make([]byte, size), 0o644))
	}
	c, err := models.Load(dir, "a")
	require.NoError(t, err)
	return c
}

func TestRegistryEvictsLeastRecentlyUsedWithinBudget(t *testing.T) {
	opened := map[string]*fakeGen{}
	var devices []string
	reg := NewRegistry(RegistryParams{
		Catalog:      catalogOf(t, map[string]int{"a": 400, "b": 400, "c": 400}),
		MemoryBudget: 1000, // room for two models (plus manifests) per device
		Open: func(m models.Manifest, opts ort.Options) (Generator, error) {
			g := &fakeGen{name: m.Name}
			key := m.Name + "@cpu"
			if opts.CUDADevice != nil {
				key = m.Name + "@gpu"
			}
			devices = append(devices, key)
			opened[key] = g
			return g, nil
		},
	})
	use := func(model string, gpu *int) {
		_, release, err := reg.For(model, gpu)
		require.NoError(t, err)
		release()
	}
	use("a", nil)
	use("b", nil)
	use("a", nil) // a is now more recent than b
	use("c", nil) // over budget: b, the least recently used, goes
	require.Eventually(t, opened["b@cpu"].isClosed, timeout, tick)
	require.False(t, opened["a@cpu"].isClosed())
	require.Equal(t, []string{"a@cpu", "c@cpu"}, reg.Loaded())

	// Another device has its own budget and sessions.
	zero := 0
	use("b", &zero)
	require.Equal(t, []string{"a@cpu", "b@cuda:0", "c@cpu"}, reg.Loaded())

	// A model in use is never evicted, even over budget.
	_, holdA, err := reg.For("a", nil)
	require.NoError(t, err)
	_, holdC, err := reg.For("c", nil)
	require.NoError(t, err)
	use("b", nil)
	require.Equal(t, []string{"a@cpu", "b@cpu", "b@cuda:0", "c@cpu"}, reg.Loaded(), "nothing idle to evict")
	holdA()
	holdC()
	holdC() // release is idempotent
	require.Equal(t, []string{"a@cpu", "b@cpu", "c@cpu", "b@gpu", "b@cpu"}, devices, "each load opened once")
}

func TestRegistryUnknownModelAndReload(t *testing.T) {
	n := 0
	reg := NewRegistry(RegistryParams{
		Catalog: catalogOf(t, map[string]int{"a": 1}),
		Open:    func(models.Manifest, ort.Options) (Generator, error) { n++; return &fakeGen{}, nil },
	})
	_, _, err := reg.For("nope", nil)
	require.ErrorIs(t, err, ErrUnsupported)
	_, release, err := reg.For("a", nil)
	require.NoError(t, err)
	release()
	require.Equal(t, []string{"a@cpu"}, reg.Reload())
	_, release, err = reg.For("a", nil)
	require.NoError(t, err)
	release()
	require.Equal(t, 2, n, "a reload makes the next job load the model afresh")
	require.NoError(t, reg.Close())
}

const (
	timeout = 5 * 1e9
	tick    = 1e7
)

// TestRegistryDiscardsAFailedSession: after a run failed, the session is
// closed and the next job opens a fresh one; discarding a generator that
// was already replaced leaves the new one alone.
func TestRegistryDiscardsAFailedSession(t *testing.T) {
	var opened []*fakeGen
	reg := NewRegistry(RegistryParams{
		Catalog: catalogOf(t, map[string]int{"a": 1}),
		Open: func(models.Manifest, ort.Options) (Generator, error) {
			g := &fakeGen{}
			opened = append(opened, g)
			return g, nil
		},
	})
	first, release, err := reg.For("a", nil)
	require.NoError(t, err)
	release()
	require.True(t, reg.Discard("a", nil, first))
	require.Eventually(t, opened[0].isClosed, timeout, tick, "the failed session is closed")
	second, release, err := reg.For("a", nil)
	require.NoError(t, err)
	release()
	require.Len(t, opened, 2, "the next job opened the model again")
	require.NotSame(t, first, second)
	require.False(t, reg.Discard("a", nil, first), "a stale discard changes nothing")
	again, release, err := reg.For("a", nil)
	require.NoError(t, err)
	release()
	require.Same(t, second, again)
	require.NoError(t, reg.Close())
}
