package e2e

import (
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/natsauth"
)

// TestExampleClients runs examples/node/submit.mjs (the official Node.js
// NATS client, installed by npm into the example's folder) and
// examples/curl.sh against a test stack: each submits a request, waits for
// the job and downloads its image.
func TestExampleClients(t *testing.T) {
	for _, tool := range []string{"node", "npm", "curl", "bash"} {
		_, err := exec.LookPath(tool)
		require.NoError(t, err, "%s is needed for the example clients (CI installs Node.js with npm)", tool)
	}
	nodeDir := repoPath(t, "examples", "node")
	install := exec.Command("npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund")
	install.Dir = nodeDir
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in examples/node: %v\n%s", err, out)
	}

	s := newStack(t)
	s.startServices("runner-1")
	common := []string{"WIDTH=64", "HEIGHT=64", "STEPS=2", "CYBERIMAGE_SUPERVISOR=" + s.url(""), "SUPERVISOR=" + s.url("")}

	run := func(name string, cmd *exec.Cmd, env ...string) {
		t.Helper()
		out := t.TempDir()
		cmd.Env = append(append(append(os.Environ(), common...), env...), "OUT="+out)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		done := make(chan []byte, 1)
		go func() { b, _ := cmd.CombinedOutput(); done <- b }()
		var text []byte
		select {
		case text = <-done:
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			t.Fatalf("%s did not finish in 2 minutes", name)
		}
		require.Equal(t, 0, cmd.ProcessState.ExitCode(), "%s:\n%s", name, text)
		files, err := filepath.Glob(filepath.Join(out, "*.png"))
		require.NoError(t, err)
		require.Len(t, files, 1, "%s:\n%s", name, text)
		f, err := os.Open(files[0])
		require.NoError(t, err)
		defer f.Close()
		img, err := png.Decode(f)
		require.NoError(t, err, name)
		require.Equal(t, 64, img.Bounds().Dx(), name)
		t.Logf("%s: %s", name, strings.TrimSpace(string(text)))
	}

	node := exec.Command("node", "submit.mjs", "from the node example")
	node.Dir = nodeDir
	run("node example", node, "CYBERIMAGE_NATS_URL="+s.nats.URL(), "CYBERIMAGE_NATS_CREDS="+s.creds(natsauth.Client))
	run("curl example", exec.Command("bash", repoPath(t, "examples", "curl.sh"), "from the curl example"))
}
