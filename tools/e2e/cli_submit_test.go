package e2e

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/natsauth"
)

// TestCLISubmitWait: `cyberimage submit --wait` publishes as the client
// role, follows the job's progress and leaves its images on disk; a
// rejected request exits 1 with the code.
func TestCLISubmitWait(t *testing.T) {
	s := newStack(t)
	s.startAll("runner-1")
	cli := buildCommands(t, "cyberimage")["cyberimage"]
	out := t.TempDir()
	common := []string{"--supervisor", s.url(""), "submit", "--nats-url", s.nats.URL(), "--creds", s.creds(natsauth.Client)}

	text, code := runCommand(t, 2*time.Minute, cli, append(common, "--prompt", "from the cli", "--width", "64", "--height", "96",
		"--steps", "3", "--num-images", "2", "--wait", "--out", out)...)
	require.Equal(t, 0, code, text)
	require.Contains(t, text, "step 3/3", "the progress bar followed the job")
	files, err := filepath.Glob(filepath.Join(out, "*.png"))
	require.NoError(t, err)
	require.Len(t, files, 2, text)
	for _, f := range files {
		require.Contains(t, text, f)
		r, err := os.Open(f)
		require.NoError(t, err)
		img, err := png.Decode(r)
		r.Close()
		require.NoError(t, err)
		require.Equal(t, 64, img.Bounds().Dx())
		require.Equal(t, 96, img.Bounds().Dy())
	}

	text, code = runCommand(t, time.Minute, cli, append(common, "--prompt", "bad", "--width", "100")...)
	require.Equal(t, 1, code, text)
	require.True(t, strings.Contains(text, "width_not_multiple_of_8"), text)
	text, code = runCommand(t, time.Minute, cli, append(common, "--width", "64", "stray")...)
	require.Equal(t, 2, code, text)
}
