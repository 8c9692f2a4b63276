package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/job"
)

// webhookSecret signs the calls of every webhook test stack.
const webhookSecret = "e2e-webhook-secret-0123456789"

// hookCall is one call a receiver answered.
type hookCall struct {
	jobID, delivery string
	body            []byte
	signedOK        bool
	at              time.Time
}

// hookReceiver is a webhook receiver on this host: it checks each call's
// signature itself (as docs/operations.md tells receivers to) and keeps
// the calls it answered. A blocking receiver holds every call until the
// test ends.
type hookReceiver struct {
	t     *testing.T
	addr  string
	block chan struct{}

	mu      sync.Mutex
	calls   []hookCall
	holding int // calls a blocking receiver holds now
	most    int // the most it held at once
}

// reserveHook picks a free port for a receiver that is down until up.
func reserveHook(t *testing.T) *hookReceiver {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return &hookReceiver{t: t, addr: addr}
}

// up starts answering on the reserved port: 200 at once, or, blocking,
// never until the test ends.
func (h *hookReceiver) up(blocking bool) {
	h.t.Helper()
	l, err := net.Listen("tcp", h.addr)
	require.NoError(h.t, err)
	if blocking {
		h.block = make(chan struct{})
	}
	srv := &http.Server{Handler: http.HandlerFunc(h.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	h.t.Cleanup(func() {
		if h.block != nil {
			close(h.block)
		}
		_ = srv.Close()
	})
}

func (h *hookReceiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if h.block != nil {
		// Held until the test ends or the caller gives up (its timeout).
		h.mu.Lock()
		h.holding++
		h.most = max(h.most, h.holding)
		h.mu.Unlock()
		select {
		case <-h.block:
		case <-r.Context().Done():
		}
		h.mu.Lock()
		h.holding--
		h.mu.Unlock()
		return
	}
	call := hookCall{jobID: r.Header.Get("Cyberimage-Job-Id"), delivery: r.Header.Get("Cyberimage-Delivery"), body: body,
		signedOK: signatureOK(r.Header.Get("Cyberimage-Signature"), body), at: time.Now()}
	h.mu.Lock()
	h.calls = append(h.calls, call)
	h.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (h *hookReceiver) url() string { return "http://" + h.addr + "/hook" }

func (h *hookReceiver) answered() []hookCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookCall(nil), h.calls...)
}

// held is the calls a blocking receiver holds now, and the most it held
// at once.
func (h *hookReceiver) held() (now, most int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.holding, h.most
}

// signatureOK checks "t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">" with
// the shared secret, and that t is recent, as a receiver would.
func signatureOK(header string, body []byte) bool {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return false
	}
	mac := hmac.New(sha256.New, []byte(webhookSecret))
	mac.Write([]byte(ts + "." + string(body)))
	got, err := hex.DecodeString(sig)
	return err == nil && hmac.Equal(got, mac.Sum(nil))
}

// webhookEnv allows plain HTTP to these receivers (on this host, so each
// must be named exactly).
func webhookEnv(receivers ...*hookReceiver) []string {
	var hosts []string
	for _, r := range receivers {
		hosts = append(hosts, "http://"+r.addr)
	}
	return []string{"CYBERIMAGE_WEBHOOK_ALLOWED_HOSTS=" + strings.Join(hosts, ","), "CYBERIMAGE_WEBHOOK_SECRET=" + webhookSecret}
}

// callbackView is the "callback" of GET /v1/jobs/{id}.
type callbackView struct {
	URL      string `json:"url"`
	State    string `json:"state"`
	Delivery string `json:"delivery"`
	Attempts []struct {
		Outcome    string `json:"outcome"`
		HTTPStatus int    `json:"http_status"`
		Error      string `json:"error"`
	} `json:"attempts"`
}

func (s *stack) callback(id string) callbackView {
	s.t.Helper()
	var v struct {
		Callback callbackView `json:"callback"`
	}
	require.Equal(s.t, http.StatusOK, s.getJSON("/v1/jobs/"+id, &v))
	return v.Callback
}

// TestWebhookReceiverDownThenUp: a job's webhook whose receiver is down
// when the job ends is retried, each failed attempt shown on the job, and
// delivered once, signed, when the receiver comes back.
func TestWebhookReceiverDownThenUp(t *testing.T) {
	hook := reserveHook(t) // down: nothing listens
	s := newStack(t, webhookEnv(hook)...)
	s.startAll("runner-a")
	r := request(t, s.client, fmtReq("a lighthouse", 64, 64, 1, fmt.Sprintf(`,"callback_url":%q`, hook.url())))
	require.Equal(t, job.StatusQueued, r.Status, r.Error)
	rec := s.waitEnded(1, time.Minute)[r.JobID]
	require.Equal(t, job.StatusCompleted, rec.Status)

	var cb callbackView
	retryUntil(t, 30*time.Second, 100*time.Millisecond, func() bool { cb = s.callback(r.JobID); return len(cb.Attempts) >= 1 },
		func() string { return "a first attempt is recorded on the job" })
	require.Equal(t, "pending", cb.State)
	require.Equal(t, hook.url(), cb.URL)
	require.Equal(t, "network_error", cb.Attempts[0].Outcome, "nothing listens: %+v", cb.Attempts[0])

	hook.up(false)
	retryUntil(t, 60*time.Second, 100*time.Millisecond, func() bool { cb = s.callback(r.JobID); return cb.State == "delivered" },
		func() string { return fmt.Sprintf("delivered once the receiver is back: %+v", cb) })
	calls := hook.answered()
	require.Len(t, calls, 1, "delivered once")
	require.True(t, calls[0].signedOK, "signed with the shared secret")
	require.Equal(t, r.JobID, calls[0].jobID)
	require.Equal(t, r.JobID+".0", calls[0].delivery)
	require.Equal(t, cb.Delivery, calls[0].delivery)
	var body job.Record
	require.NoError(t, json.Unmarshal(calls[0].body, &body))
	require.Equal(t, r.JobID, body.JobID)
	require.Equal(t, job.StatusCompleted, body.Status)
	require.Equal(t, rec.Images, body.Images)
	last := cb.Attempts[len(cb.Attempts)-1]
	require.Equal(t, "delivered", last.Outcome)
	require.Equal(t, http.StatusOK, last.HTTPStatus)
	families := scrapeFamilies(t, s.supervisorAddr)
	require.Equal(t, 1.0, value(sample(t, families, "cyberimage_webhook_attempts_total", map[string]string{"outcome": "delivered"})))
	require.Equal(t, 0.0, value(sample(t, families, "cyberimage_webhook_pending", nil)))
}

// TestWebhookOutsideAllowListRefused: ingest refuses a callback_url the
// allow list does not name (another host, another port, HTTPS-only
// hosts over plain HTTP, the cloud metadata address) with
// callback_not_allowed, before any job exists.
func TestWebhookOutsideAllowListRefused(t *testing.T) {
	hook := reserveHook(t)
	s := newStack(t, webhookEnv(hook)...)
	s.startFront()
	host, port, err := net.SplitHostPort(hook.addr)
	require.NoError(t, err)
	other, err := strconv.Atoi(port)
	require.NoError(t, err)
	for _, url := range []string{
		"https://example.org/hook",
		fmt.Sprintf("http://%s:%d/hook", host, other+1),
		"http://169.254.169.254/latest/meta-data/",
	} {
		r := request(t, s.client, fmtReq("nope", 64, 64, 1, fmt.Sprintf(`,"callback_url":%q`, url)))
		require.Equal(t, job.StatusRejected, r.Status, url)
		require.Equal(t, job.CodeCallbackNotAllowed, r.Error.Code, url)
	}
	r := request(t, s.client, fmtReq("bad", 64, 64, 1, `,"callback_url":"not a url"`))
	require.Equal(t, job.CodeCallbackInvalid, r.Error.Code)
	require.Zero(t, s.jobsInStream(), "nothing queued")
}

// TestSlowWebhookDelaysNothingElse: a receiver that never answers holds
// its host's call slots and nothing else: every job completes, and a
// healthy receiver gets its calls while the slow one still holds its own.
func TestSlowWebhookDelaysNothingElse(t *testing.T) {
	const slowJobs, fastJobs, plainJobs = 6, 3, 3
	slow, fast := reserveHook(t), reserveHook(t)
	s := newStack(t, append(webhookEnv(slow, fast), "CYBERIMAGE_WEBHOOK_WORKERS=3", "CYBERIMAGE_WEBHOOK_PER_HOST=2")...)
	slow.up(true)
	fast.up(false)
	s.startAll("runner-a")
	submit := func(prompt, extra string) string {
		r := request(t, s.client, fmtReq(prompt, 64, 64, 1, extra))
		require.Equal(t, job.StatusQueued, r.Status, r.Error)
		return r.JobID
	}
	for i := range slowJobs {
		submit(fmt.Sprintf("slow %d", i), fmt.Sprintf(`,"callback_url":%q`, slow.url()))
	}
	var fastIDs []string
	for i := range fastJobs {
		fastIDs = append(fastIDs, submit(fmt.Sprintf("fast %d", i), fmt.Sprintf(`,"callback_url":%q`, fast.url())))
	}
	for i := range plainJobs {
		submit(fmt.Sprintf("plain %d", i), "")
	}
	recs := s.waitEnded(slowJobs+fastJobs+plainJobs, 2*time.Minute)
	s.requireCompletedOnce(recs)

	retryUntil(t, 30*time.Second, 50*time.Millisecond, func() bool { return len(fast.answered()) == fastJobs },
		func() string {
			return fmt.Sprintf("the healthy receiver gets its calls: %d of %d", len(fast.answered()), fastJobs)
		})
	_, most := slow.held()
	require.Equal(t, 2, most, "the slow receiver was given its host's two slots at most")
	// Each call came as its job ended: had the slow host taken every
	// slot, it would have waited for the 10 s timeout of a slow call.
	seen := map[string]time.Time{}
	for _, c := range fast.answered() {
		require.True(t, c.signedOK)
		seen[c.jobID] = c.at
	}
	for _, id := range fastIDs {
		require.Contains(t, seen, id)
		require.Less(t, seen[id].Sub(*recs[id].CompletedAt), 5*time.Second, "%s called %s after it ended", id, seen[id].Sub(*recs[id].CompletedAt))
		require.Equal(t, "delivered", s.callback(id).State)
	}
	var pending float64
	retryUntil(t, 10*time.Second, 50*time.Millisecond, func() bool {
		pending = value(sample(t, scrapeFamilies(t, s.supervisorAddr), "cyberimage_webhook_pending", nil))
		return pending == slowJobs
	}, func() string { return fmt.Sprintf("the slow host's deliveries wait: %v pending", pending) })
}
