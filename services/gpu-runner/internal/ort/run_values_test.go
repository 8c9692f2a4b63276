package ort

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"cyberimage/services/gpu-runner/internal/onnxpb"
)

// openMixed opens a model with int64, int32 and rank-0 float inputs:
//
//	scaled = float(ids) * scale     float32 [n]
//	ids_out   = ids                 int64 [n]
//	ids32_out = ids32               int32 [n]
func openMixed(t *testing.T) *Session {
	t.Helper()
	initORT(t)
	n := []onnxpb.Dim{onnxpb.Sym("n")}
	m := onnxpb.Model{IRVersion: 8, Opset: 17, Graph: onnxpb.Graph{
		Name: "mixed",
		Nodes: []onnxpb.Node{
			{Name: "cast", OpType: "Cast", Inputs: []string{"ids"}, Outputs: []string{"ids_f"}, Attrs: []onnxpb.Attr{onnxpb.AttrInt("to", int64(onnxpb.Float))}},
			{Name: "mul", OpType: "Mul", Inputs: []string{"ids_f", "scale"}, Outputs: []string{"scaled"}},
			{Name: "id64", OpType: "Identity", Inputs: []string{"ids"}, Outputs: []string{"ids_out"}},
			{Name: "id32", OpType: "Identity", Inputs: []string{"ids32"}, Outputs: []string{"ids32_out"}},
		},
		Inputs: []onnxpb.ValueInfo{
			{Name: "ids", Type: onnxpb.Int64, Dims: n},
			{Name: "scale", Type: onnxpb.Float}, // rank 0
			{Name: "ids32", Type: onnxpb.Int32, Dims: n},
		},
		Outputs: []onnxpb.ValueInfo{
			{Name: "scaled", Type: onnxpb.Float, Dims: n},
			{Name: "ids_out", Type: onnxpb.Int64, Dims: n},
			{Name: "ids32_out", Type: onnxpb.Int32, Dims: n},
		},
	}}
	path := filepath.Join(t.TempDir(), "mixed.onnx")
	require.NoError(t, os.WriteFile(path, m.Marshal(), 0o644))
	s, err := Open(path, []string{"ids", "scale", "ids32"}, []string{"scaled", "ids_out", "ids32_out"}, Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func TestRunValuesMixedTypes(t *testing.T) {
	s := openMixed(t)
	out, err := s.RunValues(context.Background(), []Value{
		TensorOf[int64]{Shape: []int64{3}, Data: []int64{1, 2, 49407}},
		Scalar[float32](0.5),
		TensorOf[int32]{Shape: []int64{3}, Data: []int32{-1, 0, 7}},
	})
	require.NoError(t, err)
	require.Equal(t, []Value{
		Tensor{Shape: []int64{3}, Data: []float32{0.5, 1, 24703.5}},
		TensorOf[int64]{Shape: []int64{3}, Data: []int64{1, 2, 49407}},
		TensorOf[int32]{Shape: []int64{3}, Data: []int32{-1, 0, 7}},
	}, out)
}

func TestRunValuesRejectsBadInputs(t *testing.T) {
	s := openMixed(t)
	ctx := context.Background()
	ids := TensorOf[int64]{Shape: []int64{2}, Data: []int64{1, 2}}
	ids32 := TensorOf[int32]{Shape: []int64{2}, Data: []int32{1, 2}}

	_, err := s.RunValues(ctx, []Value{ids, Scalar[float32](1)})
	require.ErrorContains(t, err, "expects 3")

	_, err = s.RunValues(ctx, []Value{ids, TensorOf[float32]{Data: []float32{1, 2}}, ids32})
	require.ErrorContains(t, err, "scalar (empty shape) needs 1 value")

	_, err = s.RunValues(ctx, []Value{TensorOf[int64]{Shape: []int64{3}, Data: []int64{1}}, Scalar[float32](1), ids32})
	require.ErrorContains(t, err, "needs 3 values")

	_, err = s.RunValues(ctx, []Value{nil, Scalar[float32](1), ids32})
	require.ErrorContains(t, err, "nil value")

	// Right shape, wrong element type: ORT's own check must surface.
	_, err = s.RunValues(ctx, []Value{Tensor{Shape: []int64{2}, Data: []float32{1, 2}}, Scalar[float32](1), ids32})
	require.Error(t, err)
	t.Logf("ORT type error: %v", err)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.RunValues(cancelled, []Value{ids, Scalar[float32](1), ids32})
	require.ErrorIs(t, err, context.Canceled)

	require.NoError(t, s.Close())
	_, err = s.RunValues(ctx, []Value{ids, Scalar[float32](1), ids32})
	require.ErrorIs(t, err, ErrClosed)
}
