package console

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// No other site may frame the console (its buttons change jobs), and the
// page loads nothing from elsewhere: on the page and on every asset.
func TestConsoleMayNotBeFramed(t *testing.T) {
	h := Handler()
	for _, path := range []string{"/", "/console/app.js", "/console/charts.js", "/console/fleet.js", "/console/deadletters.js", "/console/clients.js", "/console/style.css"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		require.Equal(t, http.StatusOK, rec.Code, path)
		csp := rec.Header().Get("Content-Security-Policy")
		require.Contains(t, csp, "frame-ancestors 'none'", path)
		require.Contains(t, csp, "default-src 'self'", path)
		require.Contains(t, csp, "script-src 'self'", path)
		require.Equal(t, "DENY", rec.Header().Get("X-Frame-Options"), path)
		require.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"), path)
	}
}

// Every id the console puts in a path or a link is encoded: a job id is
// data (records are written by runners), and an unencoded "/", "?" or "#"
// would send a retry or cancel somewhere else. So is an id given as a
// query value (a job's events, a client's jobs, a cursor): an unencoded
// "&" or "#" would change the query.
func TestConsoleEncodesIDsInPaths(t *testing.T) {
	scripts, err := fs.Glob(static, "static/*.js")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(scripts), 4)
	// A template literal's path, then an interpolation: it must be an
	// encodeURIComponent call.
	path := regexp.MustCompile(`(/v1/[a-z/-]*|#/[a-z-]+/|[?&](?:job_id|client|cursor)=)\$\{([^}]*)\}`)
	for _, name := range scripts {
		src, err := static.ReadFile(name)
		require.NoError(t, err)
		found := path.FindAllStringSubmatch(string(src), -1)
		if name != "static/charts.js" {
			require.NotEmpty(t, found, "the pattern finds the paths of %s", name)
		}
		for _, m := range found {
			require.True(t, strings.HasPrefix(m[2], "encodeURIComponent("), "unencoded id in a path in %s: %s", name, m[0])
		}
	}
}
