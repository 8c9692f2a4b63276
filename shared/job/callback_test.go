package job

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseCallbackHostsRefusesBadEntries(t *testing.T) {
	t.Parallel()
	for _, list := range []string{
		"a.example.com,,b.example.com", // empty entry
		"example.com:0", "example.com:99999", "example.com:x",
		"http://*.example.com", // plain HTTP only for an exact host
		"*.10.0.0.1",           // a wildcard of an address
		"*", "ex ample.com", "user@example.com", "example.com/path",
	} {
		_, err := ParseCallbackHosts(list)
		require.Error(t, err, list)
	}
	h, err := ParseCallbackHosts(" ")
	require.NoError(t, err)
	require.False(t, h.Enabled())
}

func TestCallbackHostsMatch(t *testing.T) {
	t.Parallel()
	h, err := ParseCallbackHosts("hooks.example.com, *.example.net, api.example.org:8443, http://127.0.0.1:9000, [::1]:7000, HTTP://Receiver.Local")
	require.NoError(t, err)
	for _, c := range []struct {
		url     string
		ok      bool
		exact   bool
		comment string
	}{
		{"https://hooks.example.com/cb", true, true, "exact host, default port"},
		{"https://HOOKS.example.com./cb", true, true, "case and a trailing dot do not matter"},
		{"https://hooks.example.com:443/cb", true, true, "the default port written out"},
		{"https://hooks.example.com:8443/cb", false, false, "no port in the entry: the default port only"},
		{"http://hooks.example.com/cb", false, false, "plain HTTP needs an http:// entry"},
		{"https://a.example.net/cb", true, false, "wildcard"},
		{"https://a.b.example.net/cb", true, false, "wildcard, deeper"},
		{"https://example.net/cb", false, false, "a wildcard does not take the apex"},
		{"https://evilexample.net/cb", false, false, "a suffix that is not a subdomain"},
		{"https://api.example.org:8443/", true, true, "host:port"},
		{"https://api.example.org/", false, false, "host:port, another port"},
		{"http://127.0.0.1:9000/x", true, true, "plain HTTP allowed explicitly"},
		{"https://127.0.0.1:9000/x", true, true, "an http:// entry takes HTTPS too"},
		{"http://127.0.0.1:9001/x", false, false, "another port"},
		{"https://[::1]:7000/", true, true, "IPv6"},
		{"http://receiver.local/", true, true, "an http:// entry, case-insensitive"},
		{"https://hooks.example.com.evil.org/", false, false, "a longer name"},
	} {
		u, err := url.Parse(c.url)
		require.NoError(t, err)
		m, ok := h.Match(u)
		require.Equal(t, c.ok, ok, "%s: %s", c.url, c.comment)
		require.Equal(t, c.exact, m.Exact, "%s: %s", c.url, c.comment)
	}
}

func TestParseCallbackURL(t *testing.T) {
	t.Parallel()
	h, err := ParseCallbackHosts("hooks.example.com,http://127.0.0.1:9000")
	require.NoError(t, err)
	invalid := &ValidationError{Code: CodeCallbackInvalid}
	notAllowed := &ValidationError{Code: CodeCallbackNotAllowed}
	for raw, want := range map[string]error{
		"https://hooks.example.com/cb?x=1":                                      nil,
		"http://127.0.0.1:9000/":                                                nil,
		"https://hooks.example.com/" + strings.Repeat("a", MaxCallbackURLBytes): invalid,
		"ftp://hooks.example.com/":                                              invalid,
		"hooks.example.com/cb":                                                  invalid,
		"https:///cb":                                                           invalid,
		"https://user:pw@hooks.example.com/":                                    invalid,
		"https://hooks.example.com/#frag":                                       invalid,
		"https://hooks.example.com/a b":                                         invalid,
		"https://hooks.example.com/\n":                                          invalid,
		"https://hooks.example.com:99999/":                                      invalid,
		"https://other.example.com/":                                            notAllowed,
		"http://hooks.example.com/":                                             notAllowed,
		"http://169.254.169.254/latest/meta-data":                               notAllowed,
		"https://hooks.example.com@169.254.169.254/":                            invalid,
	} {
		_, _, err := ParseCallbackURL(raw, h)
		if want == nil {
			require.NoError(t, err, raw)
			continue
		}
		require.ErrorIs(t, err, want, raw)
		var verr *ValidationError
		require.True(t, errors.As(err, &verr))
		require.Equal(t, "callback_url", verr.Field)
	}
	// No allow list: every callback is refused with the same code.
	_, _, err = ParseCallbackURL("https://hooks.example.com/", CallbackHosts{})
	require.ErrorIs(t, err, notAllowed)
}

func TestNormalizeCallback(t *testing.T) {
	t.Parallel()
	h, err := ParseCallbackHosts("hooks.example.com")
	require.NoError(t, err)
	req := Request{Prompt: "p", CallbackURL: "https://hooks.example.com/done"}
	spec, err := NormalizeAllowing(req, testModels, func() int64 { return 1 }, testNow, h)
	require.NoError(t, err)
	require.Equal(t, req.CallbackURL, spec.CallbackURL)
	// Normalize allows none.
	_, err = Normalize(req, testModels, func() int64 { return 1 }, testNow)
	require.ErrorIs(t, err, &ValidationError{Code: CodeCallbackNotAllowed})
	// The runner's Check leaves the callback to the supervisor.
	require.NoError(t, Check(spec, testModels))
	// Without one, nothing changes.
	spec, err = NormalizeAllowing(Request{Prompt: "p"}, testModels, func() int64 { return 1 }, testNow, h)
	require.NoError(t, err)
	require.Empty(t, spec.CallbackURL)
}
