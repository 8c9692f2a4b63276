package ort

import (
	"context"
	"fmt"

	onnx "github.com/yalue/onnxruntime_go"
)

// Run runs the model. Outputs are allocated by ORT (shapes may be dynamic) and
// copied into Go memory; every ORT tensor is destroyed before return. If ctx
// is cancelled while running, Run terminates the ORT run and returns an error
// wrapping ctx.Err(). It is RunValues for models whose tensors are all
// float32.
func (s *Session) Run(ctx context.Context, inputs []Tensor) ([]Tensor, error) {
	values := make([]Value, len(inputs))
	for i, t := range inputs {
		values[i] = t
	}
	outs, err := s.RunValues(ctx, values)
	if err != nil {
		return nil, err
	}
	result := make([]Tensor, len(outs))
	for i, v := range outs {
		t, ok := v.(Tensor)
		if !ok {
			return nil, fmt.Errorf("ort: output %q: not float32", s.outputNames[i])
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
