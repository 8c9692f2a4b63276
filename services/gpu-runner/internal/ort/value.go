package ort

import (
	"fmt"
	"slices"

	onnx "github.com/yalue/onnxruntime_go"
)

// Value is one input or output of RunValues: a Tensor (float32) or a
// TensorOf of another element type. Real model exports mix types (int32 or
// int64 token ids, int64 or float32 timesteps), which the float32-only Run
// cannot feed.
type Value interface {
	// ortValue wraps the value for ORT without copying; the caller keeps the
	// Go data alive until the ORT value is destroyed.
	ortValue() (onnx.Value, error)
}

// Element is an element type of TensorOf.
type Element interface {
	float32 | int32 | int64
}

// TensorOf is a tensor of T: Shape and row-major Data. Unlike Tensor, an
// empty Shape with exactly one value is a rank-0 scalar, which some exports
// declare (newer optimum UNets take the timestep as a scalar).
type TensorOf[T Element] struct {
	Shape []int64
	Data  []T
}

// Scalar returns a rank-0 TensorOf holding v.
func Scalar[T Element](v T) TensorOf[T] { return TensorOf[T]{Data: []T{v}} }

// ortValue of a Tensor keeps Run's rules: no scalars.
func (t Tensor) ortValue() (onnx.Value, error) { return toORT(t) }

func (t TensorOf[T]) ortValue() (onnx.Value, error) {
	if len(t.Shape) == 0 {
		if len(t.Data) != 1 {
			return nil, fmt.Errorf("scalar (empty shape) needs 1 value, got %d", len(t.Data))
		}
		// onnxruntime_go's Tensor rejects rank 0; its Scalar is the rank-0 path.
		return onnx.NewScalar(t.Data[0])
	}
	n := int64(1)
	for _, d := range t.Shape {
		if d <= 0 {
			return nil, fmt.Errorf("shape %v has a non-positive dimension", t.Shape)
		}
		n *= d
	}
	if n != int64(len(t.Data)) {
		return nil, fmt.Errorf("shape %v needs %d values, got %d", t.Shape, n, len(t.Data))
	}
	return onnx.NewTensor(onnx.NewShape(t.Shape...), t.Data)
}

// valueFromORT copies an ORT-allocated output into Go memory: float32 as a
// Tensor (what Run returns, so callers handle one float type), int32 and
// int64 as TensorOf. Other element types are an error.
func valueFromORT(v onnx.Value) (Value, error) {
	switch t := v.(type) {
	case *onnx.Tensor[float32]:
		return fromORT(t)
	case *onnx.Tensor[int32]:
		return TensorOf[int32]{Shape: []int64(t.GetShape()), Data: slices.Clone(t.GetData())}, nil
	case *onnx.Tensor[int64]:
		return TensorOf[int64]{Shape: []int64(t.GetShape()), Data: slices.Clone(t.GetData())}, nil
	default:
		return nil, fmt.Errorf("output is %v of %v, want a float32, int32 or int64 tensor",
			v.GetONNXType(), onnx.TensorElementDataType(v.DataType()))
	}
}
