package job

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// MaxCallbackURLBytes bounds a request's callback_url.
const MaxCallbackURLBytes = 2 << 10

// CallbackHosts is the operator's allow list of webhook receivers: the
// only hosts a job's callback_url may name. Each entry is a host or
// host:port, "*.example.com" for any name under example.com (not the name
// itself), and may start with "http://" to allow plain HTTP to that exact
// host; any other entry allows HTTPS only. An entry without a port allows
// the scheme's default port only, so an allowed name does not open every
// service on that host. The zero value allows nothing: webhooks are off.
type CallbackHosts struct {
	entries []hostEntry
}

// hostEntry is one entry of the allow list.
type hostEntry struct {
	pattern   string // as the operator wrote it, for messages
	host      string // lower case; without "*." when wildcard
	port      string // "" for the scheme's default
	wildcard  bool
	plainHTTP bool
}

// CallbackMatch is the entry a callback URL matched.
type CallbackMatch struct {
	// Pattern is the entry as the operator wrote it.
	Pattern string
	// Exact: the entry names this very host (no wildcard). Only such an
	// entry lets the URL reach a loopback, private or link-local address:
	// a wildcard or a public name resolving there is how SSRF is done.
	Exact bool
}

// ParseCallbackHosts reads the allow list: comma-separated entries (see
// CallbackHosts); "" allows nothing.
func ParseCallbackHosts(list string) (CallbackHosts, error) {
	var h CallbackHosts
	if strings.TrimSpace(list) == "" {
		return h, nil
	}
	for _, raw := range strings.Split(list, ",") {
		e, err := parseHostEntry(strings.TrimSpace(raw))
		if err != nil {
			return CallbackHosts{}, fmt.Errorf("callback host %q: %w", raw, err)
		}
		h.entries = append(h.entries, e)
	}
	return h, nil
}

func parseHostEntry(s string) (hostEntry, error) {
	e := hostEntry{pattern: s}
	if s == "" {
		return e, fmt.Errorf("empty entry")
	}
	lower := strings.ToLower(s)
	if rest, ok := strings.CutPrefix(lower, "http://"); ok {
		e.plainHTTP, lower = true, rest
	} else {
		lower = strings.TrimPrefix(lower, "https://")
	}
	host := lower
	if h, p, err := net.SplitHostPort(lower); err == nil {
		host, e.port = h, p
		if !validPort(p) {
			return e, fmt.Errorf("bad port %q", p)
		}
	} else if strings.HasPrefix(lower, "[") && strings.HasSuffix(lower, "]") {
		host = lower[1 : len(lower)-1]
	}
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		e.wildcard, host = true, rest
	}
	e.host = host
	switch {
	case host == "" || strings.ContainsAny(host, "/*@?#[] "):
		return e, fmt.Errorf("want a host, host:port or *.domain")
	case e.wildcard && e.plainHTTP:
		// Plain HTTP is for a receiver the operator names exactly (one
		// on the same host or network, say), never for a whole domain.
		return e, fmt.Errorf("http:// needs an exact host, not a wildcard")
	case e.wildcard && net.ParseIP(host) != nil:
		return e, fmt.Errorf("a wildcard needs a domain name")
	}
	return e, nil
}

func validPort(p string) bool {
	if p == "" || len(p) > 5 {
		return false
	}
	n := 0
	for _, c := range p {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n >= 1 && n <= 65535
}

// Enabled reports whether any host is allowed.
func (h CallbackHosts) Enabled() bool { return len(h.entries) > 0 }

// Match finds the entry that allows u, preferring an exact one.
func (h CallbackHosts) Match(u *url.URL) (CallbackMatch, bool) {
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	port := u.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[u.Scheme]
	}
	var found *hostEntry
	for i, e := range h.entries {
		if !e.allows(u.Scheme, host, port) {
			continue
		}
		if !e.wildcard {
			return CallbackMatch{Pattern: e.pattern, Exact: true}, true
		}
		if found == nil {
			found = &h.entries[i]
		}
	}
	if found == nil {
		return CallbackMatch{}, false
	}
	return CallbackMatch{Pattern: found.pattern}, true
}

func (e hostEntry) allows(scheme, host, port string) bool {
	if scheme == "http" && !e.plainHTTP {
		return false
	}
	want := e.port
	if want == "" {
		want = map[bool]string{true: "80", false: "443"}[scheme == "http"]
	}
	if port != want {
		return false
	}
	if e.wildcard {
		return strings.HasSuffix(host, "."+e.host)
	}
	return host == e.host
}

// ParseCallbackURL checks a callback URL's form and that hosts allow it,
// returning it parsed: callback_url_invalid for a malformed one,
// callback_not_allowed for one the allow list does not name (every one
// when webhooks are off). Ingest checks each request with it, and the
// supervisor again before every call, since the operator may have narrowed
// the list since.
func ParseCallbackURL(raw string, hosts CallbackHosts) (*url.URL, CallbackMatch, error) {
	invalid := func(why string) (*url.URL, CallbackMatch, error) {
		return nil, CallbackMatch{}, reject(CodeCallbackInvalid, "callback_url", "callback_url %s", why)
	}
	if len(raw) > MaxCallbackURLBytes {
		return invalid(fmt.Sprintf("has %d bytes; the limit is %d", len(raw), MaxCallbackURLBytes))
	}
	if strings.ContainsFunc(raw, func(r rune) bool { return r < 0x21 || r == 0x7f }) {
		return invalid("must not contain spaces or control characters")
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return invalid("is not a URL")
	case u.Scheme != "https" && u.Scheme != "http":
		return invalid("must be an https:// URL")
	case u.Host == "" || u.Hostname() == "" || u.Opaque != "":
		return invalid("must name a host")
	case u.User != nil:
		return invalid("must not carry credentials (user:password@); receivers check the signature instead")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return invalid("must not have a fragment")
	case u.Port() != "" && !validPort(u.Port()):
		return invalid("has a bad port")
	}
	if !hosts.Enabled() {
		return nil, CallbackMatch{}, reject(CodeCallbackNotAllowed, "callback_url", "this service calls no webhooks (no callback host is allowed)")
	}
	m, ok := hosts.Match(u)
	if !ok {
		what := u.Host
		if u.Scheme == "http" {
			what = "http://" + u.Host + " (plain HTTP must be allowed for the exact host)"
		}
		return nil, CallbackMatch{}, reject(CodeCallbackNotAllowed, "callback_url", "callback host %s is not in the allow list", what)
	}
	return u, m, nil
}
