package job

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type fakeModels map[string]ModelLimits

func (m fakeModels) Default() string { return "demo" }
func (m fakeModels) Lookup(name string) (ModelLimits, bool) {
	l, ok := m[name]
	return l, ok
}

var testModels = fakeModels{
	"demo":  {Name: "demo", DefaultSteps: 8, MinSteps: 1, MaxSteps: 50, DefaultGuidance: 0},
	"turbo": {Name: "turbo", DefaultSteps: 1, MinSteps: 1, MaxSteps: 4, DefaultGuidance: 0},
	"sd":    {Name: "sd", DefaultSteps: 30, DefaultGuidance: 7.5},
}

func decodeAndNormalize(payload string) (Spec, error) {
	req, err := DecodeRequest([]byte(payload))
	if err != nil {
		return Spec{}, err
	}
	return Normalize(req, testModels, func() int64 { return 42 }, testNow)
}

func TestNormalizeDefaults(t *testing.T) {
	t.Parallel()
	spec, err := decodeAndNormalize(`{"prompt":"  a red fox  "}`)
	require.NoError(t, err)
	require.Equal(t, Spec{Prompt: "a red fox", Model: "demo", Width: 512, Height: 512, Steps: 8, Guidance: 0, Seed: 42, NumImages: 1,
		Priority: PriorityNormal}, spec)

	spec, err = decodeAndNormalize(`{"prompt":"p","model":"sd","seed":0,"request_id":"abc"}`)
	require.NoError(t, err)
	require.Equal(t, 30, spec.Steps)
	require.Equal(t, 7.5, spec.Guidance)
	require.Equal(t, int64(0), spec.Seed, "an explicit seed 0 is kept, not replaced")
	require.Equal(t, "abc", spec.RequestID)
}

func TestValidationBounds(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", MaxPromptChars)
	cases := []struct {
		name    string
		payload string
		code    Code // empty: accepted
	}{
		{"prompt at limit in runes", `{"prompt":"` + long + `"}`, ""},
		{"prompt over limit", `{"prompt":"` + long + `x"}`, CodePromptTooLong},
		{"prompt missing", `{}`, CodePromptRequired},
		{"prompt blank", `{"prompt":" \t\n "}`, CodePromptRequired},
		{"negative at limit", `{"prompt":"p","negative_prompt":"` + long + `"}`, ""},
		{"negative over limit", `{"prompt":"p","negative_prompt":"` + long + `x"}`, CodeNegativePromptTooLong},
		{"unknown model", `{"prompt":"p","model":"nope"}`, CodeUnknownModel},
		{"width min", `{"prompt":"p","width":64}`, ""},
		{"width max", `{"prompt":"p","width":2048}`, ""},
		{"width below", `{"prompt":"p","width":56}`, CodeWidthOutOfRange},
		{"width above", `{"prompt":"p","width":2056}`, CodeWidthOutOfRange},
		{"width zero", `{"prompt":"p","width":0}`, CodeWidthOutOfRange},
		{"width odd", `{"prompt":"p","width":100}`, CodeWidthNotMultipleOf8},
		{"height min", `{"prompt":"p","height":64}`, ""},
		{"height max", `{"prompt":"p","height":2048}`, ""},
		{"height below", `{"prompt":"p","height":-8}`, CodeHeightOutOfRange},
		{"height above", `{"prompt":"p","height":4096}`, CodeHeightOutOfRange},
		{"height odd", `{"prompt":"p","height":516}`, CodeHeightNotMultipleOf8},
		{"steps min", `{"prompt":"p","model":"sd","steps":1}`, ""},
		{"steps max", `{"prompt":"p","model":"sd","steps":150}`, ""},
		{"steps zero", `{"prompt":"p","model":"sd","steps":0}`, CodeStepsOutOfRange},
		{"steps above", `{"prompt":"p","model":"sd","steps":151}`, CodeStepsOutOfRange},
		{"steps above model max", `{"prompt":"p","model":"turbo","steps":5}`, CodeStepsOutOfRange},
		{"steps at model max", `{"prompt":"p","model":"turbo","steps":4}`, ""},
		{"guidance min", `{"prompt":"p","guidance":0}`, ""},
		{"guidance max", `{"prompt":"p","guidance":30}`, ""},
		{"guidance below", `{"prompt":"p","guidance":-0.1}`, CodeGuidanceOutOfRange},
		{"guidance above", `{"prompt":"p","guidance":30.01}`, CodeGuidanceOutOfRange},
		{"num_images min", `{"prompt":"p","num_images":1}`, ""},
		{"num_images max", `{"prompt":"p","num_images":8}`, ""},
		{"num_images zero", `{"prompt":"p","num_images":0}`, CodeNumImagesOutOfRange},
		{"num_images above", `{"prompt":"p","num_images":9}`, CodeNumImagesOutOfRange},
		{"seed negative", `{"prompt":"p","seed":-5}`, ""},
		{"seed max int64", `{"prompt":"p","seed":9223372036854775807}`, ""},
		{"seed over int64", `{"prompt":"p","seed":9223372036854775808}`, CodeWrongType},
		{"request_id at limit", `{"prompt":"p","request_id":"` + strings.Repeat("a", MaxRequestIDLen) + `"}`, ""},
		{"request_id too long", `{"prompt":"p","request_id":"` + strings.Repeat("a", MaxRequestIDLen+1) + `"}`, CodeRequestIDInvalid},
		{"request_id control char", `{"prompt":"p","request_id":"a\u0001b"}`, CodeRequestIDInvalid},
		{"unknown field", `{"prompt":"p","colour":"red"}`, CodeUnknownField},
		{"wrong type width", `{"prompt":"p","width":"512"}`, CodeWrongType},
		{"fractional width", `{"prompt":"p","width":512.5}`, CodeWrongType},
		{"wrong type prompt", `{"prompt":7}`, CodeWrongType},
		{"not json", `prompt=cat`, CodeInvalidJSON},
		{"array", `[{"prompt":"p"}]`, CodeInvalidJSON},
		{"empty", ``, CodeInvalidJSON},
		{"truncated", `{"prompt":"p"`, CodeInvalidJSON},
		{"trailing data", `{"prompt":"p"} {"prompt":"q"}`, CodeInvalidJSON},
		{"too large", `{"prompt":"` + strings.Repeat("a", MaxRequestBytes) + `"}`, CodeTooLarge},
		// testNow is 2026-12-01T10:00:00Z, the request's time.
		{"priority high", `{"prompt":"p","priority":"high"}`, ""},
		{"priority low", `{"prompt":"p","priority":"low"}`, ""},
		{"priority unknown", `{"prompt":"p","priority":"urgent"}`, CodePriorityInvalid},
		{"priority capitalised", `{"prompt":"p","priority":"High"}`, CodePriorityInvalid},
		{"priority wrong type", `{"prompt":"p","priority":1}`, CodeWrongType},
		{"deadline ahead", `{"prompt":"p","deadline":"2026-12-01T10:00:01Z"}`, ""},
		{"deadline with offset", `{"prompt":"p","deadline":"2026-12-01T12:30:00+02:00"}`, ""},
		{"deadline at the request", `{"prompt":"p","deadline":"2026-12-01T10:00:00Z"}`, CodeDeadlineOutOfRange},
		{"deadline passed", `{"prompt":"p","deadline":"2026-11-30T10:00:00Z"}`, CodeDeadlineOutOfRange},
		{"deadline at the limit", `{"prompt":"p","deadline":"2026-12-08T10:00:00Z"}`, ""},
		{"deadline too far", `{"prompt":"p","deadline":"2026-12-08T10:00:01Z"}`, CodeDeadlineOutOfRange},
		{"deadline not RFC 3339", `{"prompt":"p","deadline":"tomorrow"}`, CodeDeadlineInvalid},
		{"deadline without zone", `{"prompt":"p","deadline":"2026-12-01T11:00:00"}`, CodeDeadlineInvalid},
		{"deadline wrong type", `{"prompt":"p","deadline":1764583200}`, CodeWrongType},
		{"expires_in min", `{"prompt":"p","expires_in":1}`, ""},
		{"expires_in max", `{"prompt":"p","expires_in":604800}`, ""},
		{"expires_in zero", `{"prompt":"p","expires_in":0}`, CodeExpiresInOutOfRange},
		{"expires_in above", `{"prompt":"p","expires_in":604801}`, CodeExpiresInOutOfRange},
		{"expires_in fractional", `{"prompt":"p","expires_in":1.5}`, CodeWrongType},
		{"deadline and expires_in", `{"prompt":"p","deadline":"2026-12-01T11:00:00Z","expires_in":60}`, CodeDeadlineInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := decodeAndNormalize(tc.payload)
			if tc.code == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.True(t, errors.Is(err, &ValidationError{Code: tc.code}), "got %v, want code %s", err, tc.code)
			var verr *ValidationError
			require.ErrorAs(t, err, &verr)
			require.NotEmpty(t, verr.Message)
		})
	}
}

func TestWrongTypeNamesField(t *testing.T) {
	t.Parallel()
	_, err := decodeAndNormalize(`{"prompt":"p","steps":"many"}`)
	var verr *ValidationError
	require.ErrorAs(t, err, &verr)
	require.Equal(t, "steps", verr.Field)
	require.Contains(t, verr.Message, "integer")
}

func TestTransitionsNeverGoBackwards(t *testing.T) {
	t.Parallel()
	require.True(t, Allowed(StatusQueued, StatusProcessing))
	require.True(t, Allowed(StatusProcessing, StatusCompleted))
	require.True(t, Allowed(StatusProcessing, StatusProcessing))
	require.True(t, Allowed(StatusRejected, StatusQueued))
	for _, to := range []Status{StatusQueued, StatusProcessing, StatusCompleted, StatusFailed, StatusRejected} {
		require.False(t, Allowed(StatusCompleted, to), "completed → %s", to)
	}
	for _, to := range []Status{StatusProcessing, StatusCompleted, StatusFailed, StatusRejected} {
		require.False(t, Allowed(StatusFailed, to), "failed → %s", to)
	}
	require.True(t, Allowed(StatusFailed, StatusQueued), "an operator may re-queue a failed job")
	require.True(t, Allowed(StatusProcessing, StatusQueued), "the supervisor may take a job back")
	require.True(t, Allowed(StatusQueued, StatusCancelled))
	require.True(t, Allowed(StatusProcessing, StatusCancelled))
	for _, to := range []Status{StatusQueued, StatusProcessing, StatusCompleted, StatusFailed} {
		require.False(t, Allowed(StatusCancelled, to), "cancelled → %s", to)
	}
	require.True(t, StatusCancelled.Terminal())
	require.False(t, Allowed(StatusQueued, StatusCompleted))
}

func TestIDs(t *testing.T) {
	t.Parallel()
	a := NewID(time.Unix(1000, 0), "CYBERIMAGE_REQUESTS:1")
	b := NewID(time.Unix(1000, 0), "CYBERIMAGE_REQUESTS:2")
	c := NewID(time.Unix(1001, 0), "CYBERIMAGE_REQUESTS:1")
	require.Len(t, a, 26)
	require.NotEqual(t, a, b)
	require.Equal(t, a, NewID(time.Unix(1000, 0), "CYBERIMAGE_REQUESTS:1"), "same origin, same id")
	require.Less(t, a, c, "ids sort by time")
	require.Equal(t, IDForRequestID("x"), IDForRequestID("x"))
	require.NotEqual(t, IDForRequestID("x"), IDForRequestID("y"))
	require.GreaterOrEqual(t, SeedFromID(a), int64(0))
}

// budgetModels are testModels under a job memory budget: "demo" slices,
// "sd" does not.
func budgetModels(budgetMB int64) fakeModels {
	demo := testModels["demo"]
	demo.Memory = Memory{FixedMB: 8, BytesPerPixel: 280, BytesPerPixelOnce: 24, Sliceable: true}
	demo.MemoryBudget = budgetMB << 20
	sd := testModels["sd"]
	sd.Memory = Memory{FixedMB: 8, BytesPerPixel: 16, BytesPerPixelOnce: 120, GuidanceFactor: 2}
	sd.MemoryBudget = budgetMB << 20
	return fakeModels{"demo": demo, "sd": sd}
}

func TestMemoryBudget(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		budgetMB int64
		payload  string
		field    string // empty: accepted
	}{
		// Sliced, the demo model needs little beyond its finished images
		// (2048×2048×8×3 B = 96 MiB).
		{"sliceable largest fits 512", 512, `{"prompt":"p","width":2048,"height":2048,"num_images":8}`, ""},
		{"sliceable largest fits 128", 128, `{"prompt":"p","width":2048,"height":2048,"num_images":8}`, ""},
		{"sliceable images alone too big", 64, `{"prompt":"p","width":2048,"height":2048,"num_images":8}`, "num_images"},
		{"sliceable one image too big", 16, `{"prompt":"p","width":2048,"height":2048}`, "width"},
		{"sliceable small fits tiny budget", 16, `{"prompt":"p","width":512,"height":512}`, ""},
		// Whole: 8 MB + 4 Mi px × (120 + 16×2 + 3) B ≈ 658 MB with guidance.
		{"whole too big", 512, `{"prompt":"p","model":"sd","width":2048,"height":2048}`, "width"},
		{"whole fits without guidance halving", 2048, `{"prompt":"p","model":"sd","width":2048,"height":2048}`, ""},
		{"whole fewer images would fit", 1024, `{"prompt":"p","model":"sd","width":2048,"height":2048,"num_images":8}`, "num_images"},
		{"whole small fits", 512, `{"prompt":"p","model":"sd","width":512,"height":512,"num_images":8}`, ""},
		{"no budget checks nothing", 0, `{"prompt":"p","model":"sd","width":2048,"height":2048,"num_images":8}`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := DecodeRequest([]byte(tc.payload))
			require.NoError(t, err)
			_, err = Normalize(req, budgetModels(tc.budgetMB), func() int64 { return 1 }, testNow)
			if tc.field == "" {
				require.NoError(t, err)
				return
			}
			var verr *ValidationError
			require.ErrorAs(t, err, &verr)
			require.Equal(t, CodeMemoryBudgetExceeded, verr.Code)
			require.Equal(t, tc.field, verr.Field)
			require.Contains(t, verr.Message, fmt.Sprintf("budget is %d MB", tc.budgetMB))
			require.Contains(t, verr.Message, "estimated")
		})
	}
}

func TestCheckRevalidatesSpecs(t *testing.T) {
	t.Parallel()
	good := Spec{Prompt: "p", Model: "demo", Width: 512, Height: 512, Steps: 8, NumImages: 2, Seed: 3}
	require.NoError(t, Check(good, testModels))
	for _, tc := range []struct {
		name string
		edit func(*Spec)
		code Code
	}{
		{"negative images", func(s *Spec) { s.NumImages = -1 }, CodeNumImagesOutOfRange},
		{"too many images", func(s *Spec) { s.NumImages = 9 }, CodeNumImagesOutOfRange},
		{"zero width", func(s *Spec) { s.Width = 0 }, CodeWidthOutOfRange},
		{"odd height", func(s *Spec) { s.Height = 100 }, CodeHeightNotMultipleOf8},
		{"steps over model max", func(s *Spec) { s.Steps = 51 }, CodeStepsOutOfRange},
		{"steps zero", func(s *Spec) { s.Steps = 0 }, CodeStepsOutOfRange},
		{"guidance NaN", func(s *Spec) { s.Guidance = math.NaN() }, CodeGuidanceOutOfRange},
		{"no prompt", func(s *Spec) { s.Prompt = "" }, CodePromptRequired},
		{"unknown model", func(s *Spec) { s.Model = "nope" }, CodeUnknownModel},
	} {
		s := good
		tc.edit(&s)
		err := Check(s, testModels)
		require.True(t, errors.Is(err, &ValidationError{Code: tc.code}), "%s: got %v", tc.name, err)
	}
	big := Spec{Prompt: "p", Model: "sd", Width: 2048, Height: 2048, Steps: 30, Guidance: 7.5, NumImages: 1}
	require.True(t, errors.Is(Check(big, budgetModels(512)), &ValidationError{Code: CodeMemoryBudgetExceeded}))
}

// The schedule of a request: its class (normal by default) and its
// deadline in UTC, from either form, counted from the request's time.
func TestNormalizeSchedule(t *testing.T) {
	t.Parallel()
	spec, err := decodeAndNormalize(`{"prompt":"p","priority":"low","expires_in":90}`)
	require.NoError(t, err)
	require.Equal(t, PriorityLow, spec.Priority)
	require.Equal(t, testNow.Add(90*time.Second), spec.Deadline)

	spec, err = decodeAndNormalize(`{"prompt":"p","deadline":"2026-12-01T12:30:00.5+02:00"}`)
	require.NoError(t, err)
	require.Equal(t, PriorityNormal, spec.Priority)
	require.Equal(t, time.Date(2026, 12, 1, 10, 30, 0, 5e8, time.UTC), spec.Deadline)
	require.Equal(t, time.UTC, spec.Deadline.Location())
	require.False(t, spec.PastDeadline(spec.Deadline.Add(-time.Nanosecond)))
	require.True(t, spec.PastDeadline(spec.Deadline))

	spec, err = decodeAndNormalize(`{"prompt":"p"}`)
	require.NoError(t, err)
	require.True(t, spec.Deadline.IsZero())
	require.False(t, spec.PastDeadline(testNow.Add(100*365*24*time.Hour)), "no deadline never passes")
}

// A runner re-checks the class, not whether the deadline passed: that is
// Expire's question at claim, not a fault of the spec. A spec from before
// priorities (none given) is normal.
func TestCheckSchedule(t *testing.T) {
	t.Parallel()
	good := Spec{Prompt: "p", Model: "demo", Width: 512, Height: 512, Steps: 8, NumImages: 1, Deadline: testNow.Add(-time.Hour)}
	require.NoError(t, Check(good, testModels))
	require.Equal(t, PriorityNormal, good.Priority.Class())
	good.Priority = "urgent"
	require.True(t, errors.Is(Check(good, testModels), &ValidationError{Code: CodePriorityInvalid}))
}
