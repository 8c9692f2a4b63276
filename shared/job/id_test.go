package job

import (
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"
)

// TestIDsAreULIDs: job ids decode with an independent ULID library, carry
// the request's stream time to the millisecond, and sort by it.
func TestIDsAreULIDs(t *testing.T) {
	at := time.Date(2026, 12, 1, 23, 30, 15, 123_000_000, time.UTC)
	id := NewID(at, "CYBERIMAGE_REQUESTS:42")
	require.Len(t, id, 26)
	u, err := ulid.ParseStrict(id)
	require.NoError(t, err)
	require.Equal(t, at, ulid.Time(u.Time()).UTC())
	require.Equal(t, id, u.String(), "canonical spelling")

	later := NewID(at.Add(time.Millisecond), "CYBERIMAGE_REQUESTS:1")
	require.Less(t, id, later, "ids sort by time")
	require.Equal(t, id, NewID(at, "CYBERIMAGE_REQUESTS:42"), "deterministic from the stream position")
	require.NotEqual(t, id, NewID(at, "CYBERIMAGE_REQUESTS:43"))
}
