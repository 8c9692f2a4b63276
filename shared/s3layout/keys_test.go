package s3layout

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestImageKeyRoundTrip(t *testing.T) {
	t.Parallel()
	key := ImageKey("01ABC", 3)
	require.Equal(t, "images/01ABC/3.png", key)
	id, idx, err := ParseImageKey(key)
	require.NoError(t, err)
	require.Equal(t, "01ABC", id)
	require.Equal(t, 3, idx)
	for _, bad := range []string{"x/01ABC/3.png", "images/01ABC/x.png", "images//1.png", "images/01ABC/3.jpg", "images/01ABC"} {
		_, _, err := ParseImageKey(bad)
		require.Error(t, err, bad)
	}
}

func TestTruncateForMetadata(t *testing.T) {
	t.Parallel()
	require.Equal(t, "caf? au lait", TruncateForMetadata("café au lait", 100))
	require.Equal(t, "abc", TruncateForMetadata("abcdef", 3))
	require.Equal(t, "a?b", TruncateForMetadata("a\nb", 10))
	require.Len(t, TruncateForMetadata(strings.Repeat("x", 5000), MaxPromptMetaBytes), MaxPromptMetaBytes)
}

func TestArchiveKeys(t *testing.T) {
	t.Parallel()
	require.Equal(t, "archive/segments/00000000000000000007-00000000000000001234.ndjson.gz", ArchiveSegmentKey(7, 1234))
	require.Equal(t, ArchiveSegmentKey(7, 1234), ArchiveSegmentKeyAt(7, 1234, 0))
	require.Equal(t, "archive/segments/00000000000000000007-00000000000000001234.1.ndjson.gz", ArchiveSegmentKeyAt(7, 1234, 1))
	// ULIDs of one 33-second window share a page; of the next, not.
	require.Equal(t, "archive/index/t-01JABCD.tsv.gz", ArchiveIndexKey("01JABCDEFGHJKMNPQRSTVWXYZ0"))
	require.Equal(t, ArchiveIndexKey("01JABCDZZZZZZZZZZZZZZZZZZZ"), ArchiveIndexKey("01JABCD0000000000000000000"))
	require.NotEqual(t, ArchiveIndexKey("01JABCE0000000000000000000"), ArchiveIndexKey("01JABCD0000000000000000000"))
	// Other ids (request_id ids, anything else) spread over 64 hash pages.
	pages := map[string]bool{}
	for i := range 2000 {
		key := ArchiveIndexKey("R" + strings.Repeat("A", 20) + string(rune('A'+i%26)) + string(rune('A'+i/26%26)) + string(rune('A'+i/676)))
		require.True(t, strings.HasPrefix(key, "archive/index/h-"), key)
		pages[key] = true
	}
	require.Len(t, pages, 64)
	for _, notULID := range []string{"RABCDEFGHJKMNPQRSTVWXYZ012", "81JABCDEFGHJKMNPQRSTVWXYZ0", "01JABCDEFGHJKMNPQRSTVWXYZ", "01JABCDEFGHJKMNPQRSTVWXYZI", "done"} {
		require.Contains(t, ArchiveIndexKey(notULID), "/h-", notULID)
	}
}

// A retried upload's keys: a try suffix on the image, the same name for
// its thumbnail, and parsed back to the same job and index.
func TestImageKeyAtRoundTrip(t *testing.T) {
	t.Parallel()
	require.Equal(t, ImageKey("01ABC", 2), ImageKeyAt("01ABC", 2, 0))
	for try, want := range map[int]string{0: "images/01ABC/2.png", 1: "images/01ABC/2-1.png", 12: "images/01ABC/2-12.png"} {
		key := ImageKeyAt("01ABC", 2, try)
		require.Equal(t, want, key)
		id, idx, gotTry, err := ParseImageKeyAt(key)
		require.NoError(t, err, key)
		require.Equal(t, []any{"01ABC", 2, try}, []any{id, idx, gotTry})
		id, idx, err = ParseImageKey(key)
		require.NoError(t, err, key)
		require.Equal(t, []any{"01ABC", 2}, []any{id, idx})
		require.Equal(t, strings.TrimSuffix(want, ".png")+".thumb.png", ThumbKeyOf(key))
	}
	require.Equal(t, "images/01ABC/2.thumb.png", ThumbKeyOf(ImageKey("01ABC", 2)))
	for _, bad := range []string{"images/01ABC/2-0.png", "images/01ABC/2-.png", "images/01ABC/2-x.png", "images/01ABC/2--1.png",
		"images/01ABC/2-01.png", "images/01ABC/-1.png", "images/01ABC/2-1.thumb.png", "images/01ABC/2.thumb.png"} {
		_, _, _, err := ParseImageKeyAt(bad)
		require.Error(t, err, bad)
	}
}
