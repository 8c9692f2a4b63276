package ort

import (
	"context"
	"fmt"
	"runtime"

	onnx "github.com/yalue/onnxruntime_go"
)

// Run runs the model. Outputs are allocated by ORT (shapes may be dynamic) and
// copied into Go memory; every ORT tensor is destroyed before return. If ctx
// is cancelled while running, Run terminates the ORT run and returns an error
// wrapping ctx.Err().
func (s *Session) Run(ctx context.Context, inputs []Tensor) ([]Tensor, error) {
	if len(inputs) != len(s.inputNames) {
		return nil, fmt.Errorf("ort: got %d inputs, session expects %d %v", len(inputs), len(s.inputNames), s.inputNames)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("ort: run not started: %w", err)
	}

	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}

	ins := make([]onnx.Value, len(inputs))
	defer destroyAll(ins)
	for i, in := range inputs {
		v, err := toORT(in)
		if err != nil {
			return nil, fmt.Errorf("ort: input %q: %w", s.inputNames[i], err)
		}
		ins[i] = v
	}
	// nil outputs make ORT allocate them with whatever shape the run yields.
	outs := make([]onnx.Value, len(s.outputNames))
	defer destroyAll(outs)

	err := s.runCancellable(ctx, ins, outs)
	// ORT read the input Data slices in place; keep them reachable until here.
	runtime.KeepAlive(inputs)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("ort: run cancelled: %w: %w", ctxErr, err)
		}
		return nil, fmt.Errorf("ort: run: %w", err)
	}

	result := make([]Tensor, len(outs))
	for i, v := range outs {
		t, err := fromORT(v)
		if err != nil {
			return nil, fmt.Errorf("ort: output %q: %w", s.outputNames[i], err)
		}
		result[i] = t
	}
	return result, nil
}

// runCancellable runs the session with its own RunOptions and, while the run
// is in flight, turns ctx cancellation into RunOptions.Terminate. ORT checks
// the flag between kernels, so a cancelled run stops after the current node.
func (s *Session) runCancellable(ctx context.Context, ins, outs []onnx.Value) error {
	ro, err := onnx.NewRunOptions()
	if err != nil {
		return fmt.Errorf("run options: %w", err)
	}
	defer ro.Destroy()

	finished := make(chan struct{})
	watcherDone := make(chan struct{})
	go func() {
		defer close(watcherDone)
		select {
		case <-ctx.Done():
			// Terminate only fails on destroyed options, which cannot happen
			// before watcherDone is closed.
			_ = ro.Terminate()
		case <-finished:
		}
	}()
	err = s.sess.RunWithOptions(ins, outs, ro)
	close(finished)
	// The watcher must be gone before ro is destroyed by the defer above.
	<-watcherDone
	return err
}
