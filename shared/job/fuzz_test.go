package job

import (
	"errors"
	"testing"
)

// FuzzDecodeAndNormalize checks that no payload panics, that every rejection
// carries a code, and that an accepted spec is within every bound.
func FuzzDecodeAndNormalize(f *testing.F) {
	for _, seed := range []string{
		`{"prompt":"a cat"}`,
		`{"prompt":"p","width":512,"height":768,"steps":20,"guidance":7.5,"seed":1,"num_images":2,"request_id":"r1","model":"sd"}`,
		`{"prompt":"p","width":"x"}`,
		`{"prompt":"p","nope":1}`,
		`{"prompt":""}`,
		`[]`,
		`{"prompt":"p"} trailing`,
		`{"prompt":"\u0000","negative_prompt":"\ud800"}`,
		`{"prompt":"p","guidance":1e400}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		spec, err := decodeAndNormalize(string(payload))
		if err != nil {
			var verr *ValidationError
			if !errors.As(err, &verr) || verr.Code == "" || verr.Message == "" {
				t.Fatalf("rejection without code or message: %v", err)
			}
			return
		}
		if spec.Prompt == "" || spec.Width < MinSide || spec.Width > MaxSide || spec.Width%8 != 0 ||
			spec.Height < MinSide || spec.Height > MaxSide || spec.Height%8 != 0 ||
			spec.Steps < MinSteps || spec.Steps > MaxSteps || spec.NumImages < MinImages || spec.NumImages > MaxImages ||
			!(spec.Guidance >= MinGuidance && spec.Guidance <= MaxGuidance) {
			t.Fatalf("accepted out-of-bounds spec %+v from %q", spec, payload)
		}
		if _, ok := testModels[spec.Model]; !ok {
			t.Fatalf("accepted unknown model %q", spec.Model)
		}
	})
}
