package job

import (
	"reflect"
	"testing"
)

// A request the compatibility API encodes is read by ingest as it was
// built, with every field it set and no others.
func TestRequestRoundTrip(t *testing.T) {
	width, steps, guidance, seed := 512, 20, 7.5, int64(9)
	req := Request{Prompt: "a koi", NegativePrompt: "blur", Model: "demo", Width: &width, Steps: &steps, Guidance: &guidance, Seed: &seed, RequestID: "r-1"}
	data := EncodeRequest(req)
	if want := `{"prompt":"a koi","negative_prompt":"blur","model":"demo","width":512,"steps":20,"guidance":7.5,"seed":9,"request_id":"r-1"}`; string(data) != want {
		t.Fatalf("encoded %s, want %s", data, want)
	}
	got, err := DecodeRequest(data)
	if err != nil || !reflect.DeepEqual(got, req) {
		t.Fatalf("decoded %+v (%v), want %+v", got, err, req)
	}
}
