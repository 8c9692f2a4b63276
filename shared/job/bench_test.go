package job

import (
	"testing"
)

// benchCatalog is the one-model catalog of the shipped demo, kept here so
// the benchmark does not move when the unit tests' fake catalog does.
type benchCatalog struct{}

func (benchCatalog) Default() string { return "demo" }
func (benchCatalog) Lookup(name string) (ModelLimits, bool) {
	if name != "demo" {
		return ModelLimits{}, false
	}
	return ModelLimits{Name: "demo", DefaultSteps: 8, MinSteps: 1, MaxSteps: 50}, true
}

// benchRequests are what ingest sees: the benchmark harness's request, a
// minimal one, and one with every field set.
var benchRequests = []struct{ name, payload string }{
	{"minimal", `{"prompt":"a neon koi pond at dusk"}`},
	{"harness", `{"prompt":"benchmark: a neon koi pond at dusk","width":64,"height":64,"steps":1,"request_id":"bench-031308-burst-1234"}`},
	{"full", `{"prompt":"a neon koi pond at dusk, volumetric light, 35mm","negative_prompt":"blurry, low quality","model":"demo",` +
		`"width":768,"height":512,"steps":20,"guidance":7.5,"seed":1234567890,"num_images":4,"request_id":"client-7f3a9c-000042"}`},
}

// benchEachRequest runs one sub-benchmark per request of benchRequests,
// calling op on its payload in the loop.
func benchEachRequest(b *testing.B, op func(payload []byte) error) {
	for _, r := range benchRequests {
		b.Run(r.name, func(b *testing.B) {
			payload := []byte(r.payload)
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				if err := op(payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeRequest is ingest's strict JSON decoding of one request.
func BenchmarkDecodeRequest(b *testing.B) {
	benchEachRequest(b, func(payload []byte) error {
		_, err := DecodeRequest(payload)
		return err
	})
}

// BenchmarkDecodeAndNormalize is everything ingest does to a request
// before it touches NATS: decode, validate, fill defaults, derive the id
// and seed.
func BenchmarkDecodeAndNormalize(b *testing.B) {
	benchEachRequest(b, func(payload []byte) error {
		req, err := DecodeRequest(payload)
		if err != nil {
			return err
		}
		id := IDForRequestID("bench")
		if req.RequestID != "" {
			id = IDForRequestID(req.RequestID)
		}
		_, err = Normalize(req, benchCatalog{}, func() int64 { return SeedFromID(id) }, testNow)
		return err
	})
}

// BenchmarkDecodeRejected is the cost of a request that fails decoding,
// which ingest pays for every bad request on the stream.
func BenchmarkDecodeRejected(b *testing.B) {
	payload := []byte(`{"prompt":"a neon koi pond","width":"wide","unknown":1}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeRequest(payload); err == nil {
			b.Fatal("accepted")
		}
	}
}
