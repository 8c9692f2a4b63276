package supervisorurl

import "testing"

// TestParse: a bare host:port is http, a trailing slash goes, and only
// http(s) URLs with a host are taken.
func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"127.0.0.1:8080", "http://127.0.0.1:8080", true},
		{"https://sup.example/", "https://sup.example", true},
		{"http://h:1/base/", "http://h:1/base", true},
		{"ftp://x", "", false},
		{"http://", "", false},
	} {
		got, err := Parse(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("Parse(%q) = %q, %v; want %q, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
