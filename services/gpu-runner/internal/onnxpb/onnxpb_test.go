package onnxpb

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
)

func sampleModel() Model {
	return Model{IRVersion: 8, ProducerName: "test", Opset: 17, Graph: Graph{
		Name: "g",
		Nodes: []Node{
			{Name: "n", OpType: "Resize", Inputs: []string{"x", "", "scales"}, Outputs: []string{"y"},
				Attrs: []Attr{AttrString("mode", "linear"), AttrInt("keepdims", 0), AttrInts("pads", 1, 1), AttrFloat("alpha", 0.5)}},
		},
		// A large initializer, which ReadGraphIO must step over.
		Initializers: []Tensor{FloatTensor("big", make([]float32, 1<<18), 1<<18), Int64Tensor("shape", []int64{-1, 1}, 2)},
		Inputs: []ValueInfo{
			{Name: "x", Type: Float, Dims: []Dim{Sym("batch_size"), Fix(4), Sym("height"), Sym("width")}},
			{Name: "t", Type: Float}, // rank 0
			{Name: "ids", Type: Int32, Dims: []Dim{Sym("b"), Fix(77)}},
		},
		Outputs: []ValueInfo{{Name: "y", Type: Int64, Dims: []Dim{Fix(1)}}},
	}}
}

func TestReadGraphIORoundTrip(t *testing.T) {
	m := sampleModel()
	path := filepath.Join(t.TempDir(), "m.onnx")
	require.NoError(t, os.WriteFile(path, m.Marshal(), 0o644))
	ins, outs, err := ReadGraphIO(path)
	require.NoError(t, err)
	// Rank 0 reads back as an empty (non-nil) Dims with a shape present.
	want := m.Graph.Inputs
	want[1].Dims = []Dim{}
	for i := range ins {
		if ins[i].Dims == nil {
			ins[i].Dims = []Dim{}
		}
	}
	require.Equal(t, want, ins)
	require.Equal(t, m.Graph.Outputs, outs)
	require.True(t, ins[0].Dims[1].Fixed())
	require.False(t, ins[0].Dims[0].Fixed())
}

func TestReadGraphIONoShapeAndErrors(t *testing.T) {
	dir := t.TempDir()
	// A value info without a shape (rank unknown), written by hand.
	tensor := appendVarint(nil, 1, uint64(Int64)) // elem_type only
	vi := appendString(nil, 1, "timestep")
	vi = appendMessage(vi, 2, appendMessage(nil, 1, tensor))
	graph := appendMessage(nil, 11, vi)
	model := appendVarint(nil, 1, 8)
	model = appendMessage(model, 7, graph)
	path := filepath.Join(dir, "noshape.onnx")
	require.NoError(t, os.WriteFile(path, model, 0o644))
	ins, _, err := ReadGraphIO(path)
	require.NoError(t, err)
	require.Equal(t, []ValueInfo{{Name: "timestep", Type: Int64, NoShape: true}}, ins)

	// Truncated file: the graph field claims more bytes than there are.
	full := (&Model{Graph: sampleModel().Graph}).Marshal()
	path = filepath.Join(dir, "truncated.onnx")
	require.NoError(t, os.WriteFile(path, full[:len(full)/2], 0o644))
	_, _, err = ReadGraphIO(path)
	require.ErrorIs(t, err, ErrMalformed)

	// No graph at all.
	path = filepath.Join(dir, "nograph.onnx")
	require.NoError(t, os.WriteFile(path, appendVarint(nil, 1, 8), 0o644))
	_, _, err = ReadGraphIO(path)
	require.ErrorIs(t, err, ErrMalformed)

	_, _, err = ReadGraphIO(filepath.Join(dir, "missing.onnx"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

// TestAttributeEncoding checks the wire form of each attribute kind; ORT
// loading the generated models (sdmodel and pipeline tests) checks the rest.
func TestAttributeEncoding(t *testing.T) {
	cases := []struct {
		attr Attr
		want []byte
	}{
		// name "k" = 0a 01 6b; i = 0 is written (proto2 presence) = 18 00; type INT = a0 01 02.
		{AttrInt("k", 0), []byte{0x0a, 0x01, 'k', 0x18, 0x00, 0xa0, 0x01, 0x02}},
		// ints packed: 42 02 01 02; type INTS = a0 01 07.
		{AttrInts("k", 1, 2), []byte{0x0a, 0x01, 'k', 0x42, 0x02, 0x01, 0x02, 0xa0, 0x01, 0x07}},
		// s = 22 01 'x'; type STRING = a0 01 03.
		{AttrString("k", "x"), []byte{0x0a, 0x01, 'k', 0x22, 0x01, 'x', 0xa0, 0x01, 0x03}},
		// f = 15 + float32 1.0 little-endian (00 00 80 3f); type FLOAT = a0 01 01.
		{AttrFloat("k", 1), []byte{0x0a, 0x01, 'k', 0x15, 0x00, 0x00, 0x80, 0x3f, 0xa0, 0x01, 0x01}},
	}
	for _, c := range cases {
		got := c.attr.marshal()
		require.True(t, bytes.Equal(c.want, got), "%x", got)
		_, typ, _ := protowire.ConsumeTag(got)
		require.Equal(t, protowire.BytesType, typ, "the name comes first")
	}
}
