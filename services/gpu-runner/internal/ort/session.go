package ort

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	onnx "github.com/yalue/onnxruntime_go"
)

// Options for a session. IntraOpThreads must be set explicitly (ORT's default
// threading spiked latency 10x on 2 cores); 0 means 1.
type Options struct {
	// IntraOpThreads is the number of threads one kernel may use; 0 means 1.
	IntraOpThreads int
	// InterOpThreads only matters for parallel execution mode, which we do not
	// enable; 0 means 1 so ORT does not spawn a default-sized pool.
	InterOpThreads int
	// CUDADevice runs the session on that GPU through ORT's CUDA execution
	// provider; nil runs it on the CPU. See CUDAProviderProblem.
	CUDADevice *int
}

// ErrClosed is returned by Run on a closed Session.
var ErrClosed = errors.New("ort: session is closed")

// Session is an open model. It is safe for concurrent use: ORT sessions allow
// concurrent Run calls, and each Run has its own RunOptions for cancellation.
type Session struct {
	inputNames  []string
	outputNames []string

	// mu is held shared by every Run and exclusively by Close, so Close
	// waits for in-flight runs instead of freeing the session under them.
	mu     sync.RWMutex
	sess   *onnx.DynamicAdvancedSession
	closed bool
}

// Open loads the model at modelPath. inputNames and outputNames fix the order
// of tensors passed to and returned by Run. Names are only checked by ORT at
// the first Run; checking them here would mean loading the model twice.
func Open(modelPath string, inputNames, outputNames []string, opts Options) (*Session, error) {
	if !initialized() {
		return nil, errNotInitialized
	}
	if len(inputNames) == 0 || len(outputNames) == 0 {
		return nil, errors.New("ort: at least one input and one output name are required")
	}
	so, err := newSessionOptions(opts)
	if err != nil {
		return nil, err
	}
	// ORT copies what it needs from the options when the session is created.
	defer so.Destroy()

	sess, err := onnx.NewDynamicAdvancedSession(modelPath, inputNames, outputNames, so)
	if err != nil {
		return nil, fmt.Errorf("ort: open %s: %w", modelPath, err)
	}
	return &Session{
		inputNames:  slices.Clone(inputNames),
		outputNames: slices.Clone(outputNames),
		sess:        sess,
	}, nil
}

// newSessionOptions translates Options into ORT session options. The caller
// must Destroy the result.
func newSessionOptions(opts Options) (*onnx.SessionOptions, error) {
	intra, inter := max(opts.IntraOpThreads, 1), max(opts.InterOpThreads, 1)
	so, err := onnx.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("ort: session options: %w", err)
	}
	steps := []struct {
		what string
		do   func() error
	}{
		{"intra-op threads", func() error { return so.SetIntraOpNumThreads(intra) }},
		{"inter-op threads", func() error { return so.SetInterOpNumThreads(inter) }},
		{"execution mode", func() error { return so.SetExecutionMode(onnx.ExecutionModeSequential) }},
		// ENABLE_ALL is ORT's own default; set it so a library default change
		// cannot silently alter numerics or speed.
		{"graph optimization", func() error { return so.SetGraphOptimizationLevel(onnx.GraphOptimizationLevelEnableAll) }},
		// The CPU arena keeps every block it ever grabbed, so one large job
		// left a runner at its peak (5 GiB after a 2048×2048×4 demo job).
		// Without it, ORT's large buffers are plain mallocs, mmap'd and
		// given back on free (see mmapThreshold), and the rest goes back
		// with ReleaseMemory; the speed cost on the demo model is within
		// run-to-run noise.
		{"cpu memory arena", func() error { return so.SetCpuMemArena(false) }},
		// A memory pattern plans one block for all of a run's activations
		// once it has seen its input shapes; that block was 20% larger than
		// the activations' own peak, which broke the budget of sliced runs
		// (same shapes, run after run). Off, a run's peak is its live set.
		{"memory pattern", func() error { return so.SetMemPattern(false) }},
		// Spinning pool threads burn a core waiting for work; on a shared
		// 2-core machine that starves the rest of the process.
		{"intra-op spinning", func() error { return so.AddSessionConfigEntry("session.intra_op.allow_spinning", "0") }},
		{"inter-op spinning", func() error { return so.AddSessionConfigEntry("session.inter_op.allow_spinning", "0") }},
	}
	if opts.CUDADevice != nil {
		steps = append(steps, struct {
			what string
			do   func() error
		}{"CUDA execution provider", func() error { return appendCUDA(so, *opts.CUDADevice) }})
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			so.Destroy()
			return nil, fmt.Errorf("ort: set %s: %w", s.what, err)
		}
	}
	return so, nil
}

// Close releases the session after in-flight runs finish. Closing twice is a
// no-op.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.sess.Destroy(); err != nil {
		return fmt.Errorf("ort: close session: %w", err)
	}
	return nil
}
