package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/job"
	"cyberimage/shared/testenv"
)

// TestReadmeMatchesCode: the README's tables say what the code does.
// Every setting a service or the dev stack reads (from their --help) has
// a row in the configuration table and every row names a real setting;
// every route the supervisor and ingest serve is documented and every
// documented route is served; the README's states are the job statuses.
func TestReadmeMatchesCode(t *testing.T) {
	root := testenv.RepoRoot(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	text := string(readme)

	t.Run("settings", func(t *testing.T) {
		code := map[string]bool{}
		tools := buildCommands(t, "devstack", "provision")
		for _, bin := range []string{bins["ingest"], bins["gpu-runner"], bins["supervisor"], tools["devstack"], tools["provision"]} {
			out, _ := exec.Command(bin, "--help").CombinedOutput()
			found := regexp.MustCompile(`\[(CYBERIMAGE_[A-Z0-9_]+)\]`).FindAllStringSubmatch(string(out), -1)
			require.NotEmpty(t, found, "%s --help lists its settings:\n%s", bin, out)
			for _, m := range found {
				code[m[1]] = true
			}
		}
		documented := map[string]bool{}
		for _, line := range strings.Split(text, "\n") {
			if m := regexp.MustCompile("^\\| `(CYBERIMAGE_[A-Z0-9_]+)` \\|").FindStringSubmatch(line); m != nil {
				documented[m[1]] = true
			}
		}
		require.Equal(t, sorted(code), sorted(documented), "settings in --help vs rows of the README's configuration table")
	})

	t.Run("routes", func(t *testing.T) {
		served := routesIn(t, filepath.Join(root, "services", "supervisor", "internal", "api"))
		documented := map[string]bool{}
		for _, m := range regexp.MustCompile("(?m)^\\| `((?:GET|POST|PUT|DELETE) /[^`]*)` \\|").FindAllStringSubmatch(text, -1) {
			documented[normalRoute(m[1])] = true
		}
		require.Equal(t, sorted(served), sorted(documented), "supervisor routes vs the README's HTTP table")

		ingest := routesIn(t, filepath.Join(root, "services", "ingest", "internal", "httpapi"))
		line := regexp.MustCompile(`(?s)Ingest serves (.*?)\n\n`).FindStringSubmatch(text)
		require.NotNil(t, line, "the README says what ingest serves")
		said := map[string]bool{}
		for _, m := range regexp.MustCompile("`((?:GET|POST) /[^`]*)`").FindAllStringSubmatch(line[1], -1) {
			said[normalRoute(m[1])] = true
		}
		require.Equal(t, sorted(ingest), sorted(said), "ingest routes vs the README")
	})

	t.Run("statuses", func(t *testing.T) {
		bullet := regexp.MustCompile(`(?s)- \*\*States\*\*: (.*?)\n- `).FindStringSubmatch(text)
		require.NotNil(t, bullet, "the README has a States bullet")
		documented := map[string]bool{}
		for _, m := range regexp.MustCompile("`([a-z]+)`").FindAllStringSubmatch(bullet[1], -1) {
			documented[m[1]] = true
		}
		code := map[string]bool{}
		for _, s := range job.Statuses() {
			code[string(s)] = true
		}
		require.Equal(t, sorted(code), sorted(documented), "job statuses vs the README's States")
	})
}

// routesIn reads the "METHOD /path" patterns registered in a package.
func routesIn(t *testing.T, dir string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	require.NoError(t, err)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range regexp.MustCompile(`Handle(?:Func)?\("((?:GET|POST|PUT|DELETE) /[^"]*)"`).FindAllStringSubmatch(string(src), -1) {
			out[normalRoute(m[1])] = true
		}
	}
	require.NotEmpty(t, out, "routes in %s", dir)
	return out
}

// normalRoute names path parameters alike: {id} and {job_id} are one route;
// "{$}" (exactly this path) is the path itself.
func normalRoute(r string) string {
	return regexp.MustCompile(`\{[^}]*\}`).ReplaceAllString(strings.ReplaceAll(r, "{$}", ""), "{}")
}

func sorted(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
