package e2e

import (
	"compress/gzip"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// collector is an in-process OTLP/HTTP trace receiver: what a service
// exports lands here, decoded with OpenTelemetry's own protobuf types.
type collector struct {
	url   string
	mu    sync.Mutex
	spans []seenSpan
}

type seenSpan struct {
	service, name, traceID, parentID string
}

func startCollector(t *testing.T) *collector {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	c := &collector{url: "http://" + ln.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		data, err := io.ReadAll(body)
		var req coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(data, &req)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		for _, rs := range req.GetResourceSpans() {
			service := ""
			for _, a := range rs.GetResource().GetAttributes() {
				if a.GetKey() == "service.name" {
					service = a.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				for _, sp := range ss.GetSpans() {
					c.spans = append(c.spans, seenSpan{service: service, name: sp.GetName(),
						traceID: hex.EncodeToString(sp.GetTraceId()), parentID: hex.EncodeToString(sp.GetParentSpanId())})
				}
			}
		}
		c.mu.Unlock()
		resp, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(resp)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return c
}

// trace returns the spans of one trace as "service/name".
func (c *collector) trace(id string) map[string]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]bool{}
	for _, s := range c.spans {
		if s.traceID == id {
			out[s.service+"/"+s.name] = true
		}
	}
	return out
}

// TestOneTracePerJob: with CYBERIMAGE_OTLP_ENDPOINT set, a job is one
// trace across the processes that handle it: submitted over HTTP with a
// client's traceparent, the supervisor's submit, ingest's admission, the
// runner's job with its queue, inference, encode and S3 spans, and the
// supervisor's archive copy all carry the client's trace id, and the
// runner's log lines about the job name it.
func TestOneTracePerJob(t *testing.T) {
	col := startCollector(t)
	s := newStack(t, "CYBERIMAGE_OTLP_ENDPOINT="+col.url, "OTEL_BSP_SCHEDULE_DELAY=100")
	s.startAll("runner-1", "CYBERIMAGE_MODELS=demo")

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	var sub map[string]any
	resp := postHTTP(t, s.url("/v1/jobs"), fmtReq("traced", 64, 64, 2, ""),
		map[string]string{"Content-Type": "application/json", "traceparent": "00-" + traceID + "-00f067aa0ba902b7-01"}, &sub)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, sub)
	id := sub["job_id"].(string)
	rec := waitCompleted(t, s, id, time.Minute)
	require.Contains(t, rec.Traceparent, traceID, "the record names the job's trace")

	want := []string{"supervisor/supervisor.submit", "ingest/ingest.admit", "gpu-runner/runner.job", "gpu-runner/queue",
		"gpu-runner/inference", "gpu-runner/encode", "gpu-runner/s3.put", "supervisor/supervisor.archive"}
	require.Eventually(t, func() bool {
		got := col.trace(traceID)
		for _, w := range want {
			if !got[w] {
				return false
			}
		}
		return true
	}, 30*time.Second, 100*time.Millisecond, "one trace spans every process: got %v", col.trace(traceID))

	for _, line := range strings.Split(s.serviceLog("runner-1"), "\n") {
		if strings.Contains(line, `"job_id":"`+id+`"`) && strings.Contains(line, "job completed") {
			require.Contains(t, line, `"trace_id":"`+traceID+`"`, "the runner's log line names the trace")
		}
	}

	// A request over NATS without a trace context starts one in ingest.
	plain := request(t, s.client, fmtReq("traced over nats", 64, 64, 1, ""))
	rec = waitCompleted(t, s, plain.JobID, time.Minute)
	parts := strings.Split(rec.Traceparent, "-")
	require.Len(t, parts, 4, "traceparent %q", rec.Traceparent)
	require.Eventually(t, func() bool {
		got := col.trace(parts[1])
		return got["ingest/ingest.admit"] && got["gpu-runner/runner.job"] && got["gpu-runner/inference"] && got["supervisor/supervisor.archive"]
	}, 30*time.Second, 100*time.Millisecond, "got %v", col.trace(parts[1]))
}
