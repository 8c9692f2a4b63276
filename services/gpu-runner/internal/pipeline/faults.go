package pipeline

import (
	"context"
	"strings"

	"cyberimage/shared/job"
)

// Faults injects failures for tests and demos only; the zero value injects
// nothing. A job whose prompt contains HangPrompt hangs at step HangStep:
// heartbeats and in-progress acks go on, the inference never finishes. That
// is the failure JetStream cannot see and the supervisor's watchdog exists
// for.
type Faults struct {
	HangPrompt string
	HangStep   int
	// Stuck makes the hang ignore termination, like a wedged GPU kernel,
	// to exercise the runner's exit after an abandon times out.
	Stuck bool
}

// Enabled reports whether any fault is configured.
func (f Faults) Enabled() bool { return f.HangPrompt != "" }

// WithFaults wraps g so matching jobs hang; g is returned as is when f
// injects nothing.
func WithFaults(g Generator, f Faults) Generator {
	if !f.Enabled() {
		return g
	}
	return &faulty{Generator: g, f: f}
}

type faulty struct {
	Generator
	f Faults
}

func (g *faulty) Generate(ctx context.Context, spec job.Spec, progress Progress) ([]Image, error) {
	if !strings.Contains(spec.Prompt, g.f.HangPrompt) {
		return g.Generator.Generate(ctx, spec, progress)
	}
	return g.Generator.Generate(ctx, spec, g.hang(ctx, progress))
}

// GenerateBatch hangs the whole batch when any job in it matches, as a
// wedged kernel would; without batch support it runs jobs one by one.
func (g *faulty) GenerateBatch(ctx context.Context, specs []job.Spec, progress Progress) ([][]Image, error) {
	matched := false
	for _, s := range specs {
		matched = matched || strings.Contains(s.Prompt, g.f.HangPrompt)
	}
	if matched {
		progress = g.hang(ctx, progress)
	}
	return GenerateAll(ctx, g.Generator, specs, progress)
}

func (g *faulty) hang(ctx context.Context, progress Progress) Progress {
	return func(step, total int) {
		if progress != nil {
			progress(step, total)
		}
		if step != max(1, g.f.HangStep) {
			return
		}
		if g.f.Stuck {
			select {} // a wedged kernel: nothing gets it back
		}
		<-ctx.Done() // hung until terminated
	}
}
