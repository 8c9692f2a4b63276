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
