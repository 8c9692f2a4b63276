package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
)

// Who may do what over HTTP. Three tokens, each a bearer credential:
//   - the read token (CYBERIMAGE_READ_TOKEN) reads: status, lists and
//     searches of every user's prompts, job lookups with presigned image
//     URLs, the event stream, metrics;
//   - the submit token (CYBERIMAGE_SUBMIT_TOKEN) submits jobs;
//   - the admin token (CYBERIMAGE_ADMIN_TOKEN) changes jobs, and also reads
//     and submits: an operator needs one token, not three;
//   - each client token (CYBERIMAGE_CLIENT_TOKENS) submits, as its client.
//
// Read and submit stay apart: a client that may submit cannot read other
// users' prompts, and a dashboard that may read cannot queue work.
// Without a read token reads are open (the address is then the boundary:
// the supervisor warns when it listens beyond loopback). Without a submit
// token only clients on this host may submit. The admin actions are off
// without an admin token. /livez, /readyz and the console's files hold no
// data and are always open.
type grant uint8

const (
	grantRead grant = 1 << iota
	grantSubmit
	grantAdmin
)

// tokenCookie carries the read token of the console's event stream:
// EventSource cannot set an Authorization header. The console scopes it to
// /v1/events with SameSite=Strict, and only that route reads it.
const tokenCookie = "cyberimage_token"

// credential is what a request presented: its role's name (a client's
// name for a client token) and grants.
type credential struct {
	name   string
	grants grant
	// client: the name is a client's (a client token matched), not a
	// role's.
	client bool
}

// anonymous is the credential of a request on a route open to it.
var anonymous = credential{name: "anonymous"}

// configuredToken is one token the server takes, kept as its hash: a
// request's token is hashed once and compared with these, not every
// configured token hashed again per request.
type configuredToken struct {
	hash   [sha256.Size]byte
	set    bool // an empty token matches nothing, even an empty bearer
	name   string
	grants grant
	client bool
}

// hashTokens lists every configured token of p: the three roles', then
// the clients'. New calls it once.
func hashTokens(p Params) []configuredToken {
	token := func(value, name string, g grant, client bool) configuredToken {
		return configuredToken{hash: sha256.Sum256([]byte(value)), set: value != "", name: name, grants: g, client: client}
	}
	all := []configuredToken{
		token(p.ReadToken, "read", grantRead, false),
		token(p.SubmitToken, "submit", grantSubmit, false),
		token(p.AdminToken, "admin", grantRead|grantSubmit|grantAdmin, false),
	}
	for name, value := range p.ClientTokens {
		all = append(all, token(value, name, grantSubmit, true))
	}
	return all
}

// grantsOf tells what a token may do. Every configured token is compared,
// in constant time over fixed-length hashes, so neither a token's bytes
// nor its length, nor which role or client matched, shows in the answer's
// timing.
func (s *Server) grantsOf(token string) credential {
	given := sha256.Sum256([]byte(token))
	var c credential
	for _, t := range s.tokens {
		if subtle.ConstantTimeCompare(given[:], t.hash[:])&boolInt(t.set) == 1 {
			c.grants |= t.grants
			if c.name == "" || t.name == "admin" {
				c.name, c.client = t.name, t.client
			}
		}
	}
	return c
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// presented is the token a request carries: "Authorization: Bearer
// <token>", or, where cookie allows it and the browser says the request
// comes from the console's own page, the console's cookie.
func presented(r *http.Request, cookie bool) (string, bool) {
	if v := r.Header.Get("Authorization"); v != "" {
		given, ok := strings.CutPrefix(v, "Bearer ")
		return strings.TrimSpace(given), ok
	}
	if !cookie || crossSite(r) {
		return "", false
	}
	c, err := r.Cookie(tokenCookie)
	if err != nil || c.Value == "" {
		return "", false
	}
	// The console writes it with encodeURIComponent.
	if v, err := url.PathUnescape(c.Value); err == nil {
		return v, true
	}
	return c.Value, true
}

// open tells whether a route needing g is open to r without a token.
func (s *Server) open(g grant, r *http.Request) bool {
	switch g {
	case grantRead:
		return s.p.ReadToken == ""
	case grantSubmit:
		return s.p.SubmitToken == "" && fromLoopback(r)
	}
	return false
}

// authorize answers a request that may not have what it needs (401 with
// no or an unknown token, 403 with a token of another role or where the
// route is off) and returns false; otherwise it returns who asked: a
// role's or client's credential, or anonymous on an open route.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, need grant, cookie bool) (credential, bool) {
	token, given := presented(r, cookie)
	var c credential
	if given {
		c = s.grantsOf(token)
		if c.grants&need != 0 {
			return c, true
		}
	}
	if s.open(need, r) {
		return anonymous, true
	}
	switch {
	case need == grantAdmin && s.p.AdminToken == "":
		writeErrorCode(w, http.StatusForbidden, "forbidden", "the admin API is off: the supervisor has no CYBERIMAGE_ADMIN_TOKEN")
	case need == grantSubmit && s.p.SubmitToken == "" && len(s.p.ClientTokens) == 0 && c.grants == 0:
		writeErrorCode(w, http.StatusForbidden, "forbidden",
			"submitting over HTTP from another host needs a submit token, and the supervisor has none (CYBERIMAGE_SUBMIT_TOKEN); the admin token also submits")
	case c.grants != 0:
		writeErrorCode(w, http.StatusForbidden, "forbidden", "the "+c.name+" token may not "+verb(need))
	default:
		w.Header().Set("WWW-Authenticate", `Bearer realm="cyberimage"`)
		writeErrorCode(w, http.StatusUnauthorized, "unauthorized", "a token is required to "+verb(need)+": Authorization: Bearer <token>")
	}
	return credential{}, false
}

func verb(g grant) string {
	switch g {
	case grantRead:
		return "read"
	case grantSubmit:
		return "submit jobs"
	}
	return "change jobs"
}

// reader guards a read route.
func (s *Server) reader(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, ok := s.authorize(w, r, grantRead, false); ok {
			h(w, r)
		}
	}
}

// admin guards the endpoints that change jobs. Two rules:
//   - the request carries the admin token; without a configured one these
//     endpoints are off;
//   - it does not come from another site: a browser's cross-site request
//     (Sec-Fetch-Site, or an Origin naming another host) is refused, so a
//     page elsewhere cannot drive an operator's browser against the API.
func (s *Server) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if crossSite(r) {
			writeErrorCode(w, http.StatusForbidden, "forbidden", "cross-site requests may not change jobs")
			return
		}
		if _, ok := s.authorize(w, r, grantAdmin, false); ok {
			h(w, r)
		}
	}
}

// crossSite reports a request a browser sent on behalf of another site.
func crossSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return true
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	u, err := url.Parse(origin)
	return err != nil || !strings.EqualFold(u.Host, r.Host)
}
