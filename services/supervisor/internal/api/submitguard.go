package api

import (
	"fmt"
	"net/http"
	"strconv"

	"cyberimage/shared/job"
)

// codeRateLimited is the error code of a submission over the rate.
const codeRateLimited job.Code = "rate_limited"

// submitter guards a submit route: no browser request made by another
// site (it would spend the bucket of whoever's browser it is), the submit
// token (or the admin token; on a supervisor without a submit token, any
// client on this host may submit), then a token from that credential's
// bucket. legacy answers in the original app's shape.
func (s *Server) submitter(h http.HandlerFunc, legacy bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if crossSite(r) {
			writeErrorCode(w, http.StatusForbidden, "forbidden", "cross-site requests may not submit jobs")
			return
		}
		who, ok := s.authorize(w, r, grantSubmit, false)
		if !ok {
			return
		}
		if ok, wait := s.submits.take(who); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(retrySeconds(wait)))
			msg := fmt.Sprintf("too many submissions: at most %d a minute per token; retry in %d s", s.submits.perMinute, retrySeconds(wait))
			if legacy {
				writeJSON(w, http.StatusTooManyRequests, map[string]string{"status": "error", "message": msg, "code": string(codeRateLimited)})
			} else {
				writeJSON(w, http.StatusTooManyRequests, rejection(codeRateLimited, "", msg))
			}
			return
		}
		h(w, r)
	}
}
