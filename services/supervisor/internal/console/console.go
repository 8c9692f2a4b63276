// Package console is the operator's web console, served by the supervisor
// at /: the overview (queue, jobs by status, charts of throughput, latency
// and queue depth over the last hour or day, runners and GPUs,
// recoveries), the job list, one job with its live progress and images, a
// gallery, the dead letters, the runners and one runner, the models and
// one model, the clients with their use beside their quotas, and the
// admin actions. It is plain HTML, CSS and JavaScript
// embedded in the binary (charts are SVG drawn by charts.js): no build
// step, no framework, nothing fetched from elsewhere. It reads only the
// supervisor's own API, and live views follow GET /v1/events (server-sent
// events) instead of polling.
package console

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// policy: the page may load only what it ships with and talk only to this
// server, and no other site may frame it (clickjacking the admin
// actions): frame-ancestors for today's browsers, X-Frame-Options for
// older ones.
const policy = "default-src 'self'; img-src 'self' http: https: data:; style-src 'self'; script-src 'self'; connect-src 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// Handler serves the console's page at / and its assets under /console/.
func Handler() http.Handler {
	assets, _ := fs.Sub(static, "static") // the folder is embedded: cannot fail
	files := http.FileServer(http.FS(assets))
	mux := http.NewServeMux()
	mux.Handle("GET /console/", http.StripPrefix("/console/", files))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, assets, "index.html")
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", policy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		mux.ServeHTTP(w, r)
	})
}
