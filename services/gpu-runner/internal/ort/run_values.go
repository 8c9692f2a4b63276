package ort

import (
	"context"
	"fmt"
	"runtime"

	onnx "github.com/yalue/onnxruntime_go"
)

// RunValues is Run for models whose inputs or outputs are not all float32.
// Inputs are Tensor or TensorOf values in the session's input order; float32
// outputs come back as Tensor, int32 and int64 outputs as TensorOf. Ownership,
// copying and cancellation work exactly as in Run.
func (s *Session) RunValues(ctx context.Context, inputs []Value) ([]Value, error) {
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
		if in == nil {
			return nil, fmt.Errorf("ort: input %q: nil value", s.inputNames[i])
		}
		v, err := in.ortValue()
		if err != nil {
			return nil, fmt.Errorf("ort: input %q: %w", s.inputNames[i], err)
		}
		ins[i] = v
	}
	outs := make([]onnx.Value, len(s.outputNames))
	defer destroyAll(outs)

	err := s.runCancellable(ctx, ins, outs)
	// ORT read the input slices in place; keep them reachable until here.
	runtime.KeepAlive(inputs)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("ort: run cancelled: %w: %w", ctxErr, err)
		}
		return nil, fmt.Errorf("ort: run: %w", err)
	}

	result := make([]Value, len(outs))
	for i, v := range outs {
		r, err := valueFromORT(v)
		if err != nil {
			return nil, fmt.Errorf("ort: output %q: %w", s.outputNames[i], err)
		}
		result[i] = r
	}
	return result, nil
}

// RunInto is Run with outputs the caller allocated: ORT writes each output
// straight into outputs[i].Data, whose Shape must be the shape the model
// produces. A caller running many slices reuses one buffer instead of
// leaving two copies of every output to the garbage collector (ORT's and
// the Go one Run returns), which is what keeps a sliced job's Go heap flat.
func (s *Session) RunInto(ctx context.Context, inputs []Value, outputs []Tensor) error {
	if len(inputs) != len(s.inputNames) {
		return fmt.Errorf("ort: got %d inputs, session expects %d %v", len(inputs), len(s.inputNames), s.inputNames)
	}
	if len(outputs) != len(s.outputNames) {
		return fmt.Errorf("ort: got %d outputs, session produces %d %v", len(outputs), len(s.outputNames), s.outputNames)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ort: run not started: %w", err)
	}

	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}

	ins := make([]onnx.Value, len(inputs))
	defer destroyAll(ins)
	for i, in := range inputs {
		if in == nil {
			return fmt.Errorf("ort: input %q: nil value", s.inputNames[i])
		}
		v, err := in.ortValue()
		if err != nil {
			return fmt.Errorf("ort: input %q: %w", s.inputNames[i], err)
		}
		ins[i] = v
	}
	outs := make([]onnx.Value, len(outputs))
	defer destroyAll(outs)
	for i, out := range outputs {
		v, err := toORT(out)
		if err != nil {
			return fmt.Errorf("ort: output %q: %w", s.outputNames[i], err)
		}
		outs[i] = v
	}

	err := s.runCancellable(ctx, ins, outs)
	// ORT read the inputs and wrote the outputs in place.
	runtime.KeepAlive(inputs)
	runtime.KeepAlive(outputs)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("ort: run cancelled: %w: %w", ctxErr, err)
		}
		return fmt.Errorf("ort: run: %w", err)
	}
	return nil
}
