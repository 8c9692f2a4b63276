package job

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Bounds of the request contract (README, "Contract v1").
const (
	MaxPromptChars   = 2000
	MinSide, MaxSide = 64, 2048
	SideMultiple     = 8
	DefaultSide      = 512
	MinSteps         = 1
	MaxSteps         = 150
	MinGuidance      = 0.0
	MaxGuidance      = 30.0
	MinImages        = 1
	MaxImages        = 8
	DefaultImages    = 1
	MaxRequestIDLen  = 128
)

// ModelLimits are the per-model defaults and bounds validation applies on top
// of the global ones.
type ModelLimits struct {
	Name            string
	DefaultSteps    int
	MinSteps        int
	MaxSteps        int
	DefaultGuidance float64
	// Memory is how the model's memory grows with a job; the zero value
	// stands for DefaultMemory.
	Memory Memory
	// MemoryBudget is the bytes one job may use; a job whose Memory.Minimum
	// exceeds it is refused (memory_budget_exceeded). 0: not checked.
	MemoryBudget int64
}

// Models resolves model names for validation. The catalog lives outside this
// package so that validation stays free of I/O.
type Models interface {
	Default() string
	Lookup(name string) (ModelLimits, bool)
}

// Normalize validates req and fills every default. drawSeed supplies the seed
// when the request has none; callers derive it from the job id so that a
// redelivered request yields the same seed. at is when the request was
// stored (its stream time, likewise the same on a redelivery): expires_in
// counts from it, and a deadline must lie after it. It allows no
// callback_url (NormalizeAllowing does).
func Normalize(req Request, models Models, drawSeed func() int64, at time.Time) (Spec, error) {
	return NormalizeAllowing(req, models, drawSeed, at, CallbackHosts{})
}

// NormalizeAllowing is Normalize for a service that takes callback URLs to
// the hosts given (ingest, with the operator's allow list).
func NormalizeAllowing(req Request, models Models, drawSeed func() int64, at time.Time, callbacks CallbackHosts) (Spec, error) {
	spec := Spec{
		Prompt:         strings.TrimSpace(req.Prompt),
		NegativePrompt: strings.TrimSpace(req.NegativePrompt),
		Model:          strings.TrimSpace(req.Model),
		RequestID:      req.RequestID,
	}
	if spec.Prompt == "" {
		return Spec{}, reject(CodePromptRequired, "prompt", "prompt is required")
	}
	if n := utf8.RuneCountInString(spec.Prompt); n > MaxPromptChars {
		return Spec{}, reject(CodePromptTooLong, "prompt", "prompt has %d characters; the limit is %d", n, MaxPromptChars)
	}
	if n := utf8.RuneCountInString(spec.NegativePrompt); n > MaxPromptChars {
		return Spec{}, reject(CodeNegativePromptTooLong, "negative_prompt", "negative_prompt has %d characters; the limit is %d", n, MaxPromptChars)
	}
	if err := validateRequestID(req.RequestID); err != nil {
		return Spec{}, err
	}
	if spec.Model == "" {
		spec.Model = models.Default()
	}
	limits, ok := models.Lookup(spec.Model)
	if !ok {
		return Spec{}, reject(CodeUnknownModel, "model", "unknown model %q", spec.Model)
	}
	var err error
	if spec.Width, err = side("width", req.Width, CodeWidthOutOfRange, CodeWidthNotMultipleOf8); err != nil {
		return Spec{}, err
	}
	if spec.Height, err = side("height", req.Height, CodeHeightOutOfRange, CodeHeightNotMultipleOf8); err != nil {
		return Spec{}, err
	}
	if spec.Steps, err = steps(req.Steps, limits); err != nil {
		return Spec{}, err
	}
	spec.Guidance = limits.DefaultGuidance
	if req.Guidance != nil {
		spec.Guidance = *req.Guidance
	}
	// Written as a negated range so NaN fails too.
	if !(spec.Guidance >= MinGuidance && spec.Guidance <= MaxGuidance) {
		return Spec{}, reject(CodeGuidanceOutOfRange, "guidance", "guidance must be between %g and %g", MinGuidance, MaxGuidance)
	}
	spec.NumImages = DefaultImages
	if req.NumImages != nil {
		spec.NumImages = *req.NumImages
	}
	if spec.NumImages < MinImages || spec.NumImages > MaxImages {
		return Spec{}, reject(CodeNumImagesOutOfRange, "num_images", "num_images must be between %d and %d", MinImages, MaxImages)
	}
	if err := checkMemory(spec, limits); err != nil {
		return Spec{}, err
	}
	if spec.Priority, spec.Deadline, err = schedule(req, at); err != nil {
		return Spec{}, err
	}
	if req.CallbackURL != "" {
		if _, _, err := ParseCallbackURL(req.CallbackURL, callbacks); err != nil {
			return Spec{}, err
		}
		spec.CallbackURL = req.CallbackURL
	}
	if req.Seed != nil {
		spec.Seed = *req.Seed
	} else {
		spec.Seed = drawSeed()
	}
	return spec, nil
}

// Check re-validates a spec that was normalised before, by Normalize's very
// rules (runners check every job they run: a record written by hand, by an
// older ingest or with another budget must be refused, not crash a model).
// A spec with no model is checked against the default one. Its deadline
// is not: it was checked against the request's time, and whether it has
// passed is the runner's question at claim (Expire), not a fault. Nor is
// its callback_url: the supervisor checks it again before every call.
func Check(spec Spec, models Models) error {
	req := Request{
		Prompt:         spec.Prompt,
		NegativePrompt: spec.NegativePrompt,
		Model:          spec.Model,
		Width:          &spec.Width,
		Height:         &spec.Height,
		Steps:          &spec.Steps,
		Guidance:       &spec.Guidance,
		Seed:           &spec.Seed,
		NumImages:      &spec.NumImages,
		RequestID:      spec.RequestID,
		Priority:       spec.Priority,
	}
	_, err := Normalize(req, models, func() int64 { return spec.Seed }, time.Time{})
	return err
}

func side(field string, v *int, rangeCode, multipleCode Code) (int, error) {
	if v == nil {
		return DefaultSide, nil
	}
	if *v < MinSide || *v > MaxSide {
		return 0, reject(rangeCode, field, "%s must be between %d and %d", field, MinSide, MaxSide)
	}
	if *v%SideMultiple != 0 {
		return 0, reject(multipleCode, field, "%s must be a multiple of %d", field, SideMultiple)
	}
	return *v, nil
}

func steps(v *int, limits ModelLimits) (int, error) {
	lo, hi := max(MinSteps, limits.MinSteps), MaxSteps
	if limits.MaxSteps > 0 {
		hi = min(hi, limits.MaxSteps)
	}
	if v == nil {
		return min(max(limits.DefaultSteps, lo), hi), nil
	}
	if *v < lo || *v > hi {
		return 0, reject(CodeStepsOutOfRange, "steps", "steps must be between %d and %d for model %q", lo, hi, limits.Name)
	}
	return *v, nil
}

// UsableRequestID reports whether a request id can key a job record, so
// that even a rejected request with one can be looked up by it.
func UsableRequestID(id string) bool { return validateRequestID(id) == nil && id != "" }

func validateRequestID(id string) error {
	if len(id) > MaxRequestIDLen || !utf8.ValidString(id) {
		return reject(CodeRequestIDInvalid, "request_id", "request_id must be valid UTF-8 of at most %d bytes", MaxRequestIDLen)
	}
	for _, r := range id {
		if r < 0x20 || r == 0x7f {
			return reject(CodeRequestIDInvalid, "request_id", "request_id must not contain control characters")
		}
	}
	return nil
}
