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
)

// TestReadmeMatchesCode: the README's and the docs' tables say what the
// code does. Every setting a service or the dev stack reads (from their
// --help) has a row in the configuration reference (docs/configuration.md)
// and every row names a real setting; every route the supervisor serves has
// a row in both the README's short table and the HTTP reference
// (docs/api.md), and every row there is served; the routes the reference
// says ingest serves are the ones it serves; the README's states are the
// job statuses.
func TestReadmeMatchesCode(t *testing.T) {
	text := string(readRepoFile(t, "README.md"))
	config := string(readRepoFile(t, "docs", "configuration.md"))
	api := string(readRepoFile(t, "docs", "api.md"))

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
		for _, line := range strings.Split(config, "\n") {
			if m := regexp.MustCompile("^\\| `(CYBERIMAGE_[A-Z0-9_]+)` \\|").FindStringSubmatch(line); m != nil {
				documented[m[1]] = true
			}
		}
		require.Equal(t, sorted(code), sorted(documented), "settings in --help vs rows of docs/configuration.md's table")
	})

	t.Run("routes", func(t *testing.T) {
		served := routesIn(t, repoPath(t, "services", "supervisor", "internal", "api"))
		require.Equal(t, sorted(served), sorted(routeRows(text)), "supervisor routes vs the README's HTTP table")
		require.Equal(t, sorted(served), sorted(routeRows(api)), "supervisor routes vs docs/api.md's table")

		ingest := routesIn(t, repoPath(t, "services", "ingest", "internal", "httpapi"))
		line := regexp.MustCompile(`(?s)Ingest serves (.*?)\n\n`).FindStringSubmatch(api)
		require.NotNil(t, line, "docs/api.md says what ingest serves")
		said := map[string]bool{}
		for _, m := range regexp.MustCompile("`((?:GET|POST) /[^`]*)`").FindAllStringSubmatch(line[1], -1) {
			said[normalRoute(m[1])] = true
		}
		require.Equal(t, sorted(ingest), sorted(said), "ingest routes vs docs/api.md")
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

// routeRows reads the routes a markdown table documents: the rows that
// start with a "METHOD /path" in backquotes.
func routeRows(text string) map[string]bool {
	out := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `((?:GET|POST|PUT|DELETE) /[^`]*)` \\|").FindAllStringSubmatch(text, -1) {
		out[normalRoute(m[1])] = true
	}
	return out
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
