// Package supervisorurl reads the --supervisor flag the CLI and the load
// test both take, so that the two accept the same forms.
package supervisorurl

import (
	"fmt"
	"net/url"
	"strings"
)

// Parse accepts "host:port" or a full http(s) URL and returns the base URL
// without a trailing slash.
func Parse(s string) (string, error) {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("--supervisor %q: want a URL such as http://127.0.0.1:8080", s)
	}
	return strings.TrimRight(u.String(), "/"), nil
}
