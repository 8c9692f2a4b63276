package api

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
)

// admin guards the endpoints that change jobs. Two rules:
//   - the request carries "Authorization: Bearer <CYBERIMAGE_ADMIN_TOKEN>";
//     without a configured token these endpoints are off;
//   - it does not come from another site: a browser's cross-site request
//     (Sec-Fetch-Site, or an Origin naming another host) is refused, so a
//     page elsewhere cannot drive an operator's browser against the API.
func (s *Server) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if crossSite(r) {
			writeError(w, http.StatusForbidden, "cross-site requests may not change jobs")
			return
		}
		if s.p.AdminToken == "" {
			writeError(w, http.StatusForbidden, "the admin API is off: the supervisor has no CYBERIMAGE_ADMIN_TOKEN")
			return
		}
		given, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(given)), []byte(s.p.AdminToken)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="cyberimage"`)
			writeError(w, http.StatusUnauthorized, "an admin token is required: Authorization: Bearer <token>")
			return
		}
		h(w, r)
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
