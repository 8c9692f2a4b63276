package ort

import (
	"fmt"
	"slices"

	onnx "github.com/yalue/onnxruntime_go"
)

// Tensor is a float32 tensor: Shape and row-major Data.
type Tensor struct {
	Shape []int64
	Data  []float32
}

// elements returns the element count implied by Shape, or an error if Shape
// is invalid or disagrees with len(Data).
func (t Tensor) elements() (int64, error) {
	if len(t.Shape) == 0 {
		// onnxruntime_go rejects rank-0 shapes for tensors.
		return 0, fmt.Errorf("empty shape (scalars are not supported)")
	}
	n := int64(1)
	for _, d := range t.Shape {
		if d <= 0 {
			return 0, fmt.Errorf("shape %v has a non-positive dimension", t.Shape)
		}
		n *= d
	}
	if n != int64(len(t.Data)) {
		return 0, fmt.Errorf("shape %v needs %d values, got %d", t.Shape, n, len(t.Data))
	}
	return n, nil
}

// toORT wraps t as an ORT value without copying: ORT reads Data in place, so
// the caller must keep t alive and unmodified until the value is destroyed.
func toORT(t Tensor) (*onnx.Tensor[float32], error) {
	if _, err := t.elements(); err != nil {
		return nil, err
	}
	return onnx.NewTensor(onnx.NewShape(t.Shape...), t.Data)
}

// fromORT copies an ORT-allocated output into Go memory. The copy is
// deliberate: onnxruntime_go happens to back outputs with a Go slice today,
// but nothing promises that, and the value is destroyed right after this.
func fromORT(v onnx.Value) (Tensor, error) {
	t, ok := v.(*onnx.Tensor[float32])
	if !ok {
		return Tensor{}, fmt.Errorf("output is %v of %v, want a float32 tensor", v.GetONNXType(), onnx.TensorElementDataType(v.DataType()))
	}
	// GetShape already returns a private copy.
	return Tensor{Shape: []int64(t.GetShape()), Data: slices.Clone(t.GetData())}, nil
}

// destroyAll releases every non-nil ORT value in vs.
func destroyAll(vs []onnx.Value) {
	for _, v := range vs {
		if v != nil {
			v.Destroy()
		}
	}
}
