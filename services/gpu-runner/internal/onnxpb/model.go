// Package onnxpb writes ONNX models and reads back a model's declared graph
// inputs and outputs, with protowire instead of generated onnx.proto types:
// the runner needs a few messages, not a large generated package. Field
// numbers follow onnx/onnx.proto3.
//
// The writer serves the generated test models (internal/sdmodel); the
// reader lets a pipeline adapt to how a real export declares its inputs
// (token id and timestep dtypes differ between exporter versions) without
// loading the model into ONNX Runtime twice.
package onnxpb

import "fmt"

// DataType is an ONNX TensorProto.DataType.
type DataType int32

// The element types the runner's models use.
const (
	Undefined DataType = 0
	Float     DataType = 1
	Int32     DataType = 6
	Int64     DataType = 7
	Float16   DataType = 10
	Double    DataType = 11
)

// String names the type as ONNX Runtime does in its messages.
func (t DataType) String() string {
	switch t {
	case Float:
		return "tensor(float)"
	case Int32:
		return "tensor(int32)"
	case Int64:
		return "tensor(int64)"
	case Float16:
		return "tensor(float16)"
	case Double:
		return "tensor(double)"
	default:
		return fmt.Sprintf("tensor(type %d)", int32(t))
	}
}

// Model is the subset of onnx.ModelProto the runner writes: one graph and
// one opset of the default domain.
type Model struct {
	IRVersion    int64
	ProducerName string
	Opset        int64
	Graph        Graph
}

// Graph is the subset of onnx.GraphProto the runner writes.
type Graph struct {
	Name         string
	Nodes        []Node
	Initializers []Tensor
	Inputs       []ValueInfo
	Outputs      []ValueInfo
}

// Node is an onnx.NodeProto of the default domain.
type Node struct {
	Name    string
	OpType  string
	Inputs  []string // "" marks an omitted optional input
	Outputs []string
	Attrs   []Attr
}

// ValueInfo declares a tensor graph input or output. Dims nil (or empty) is
// a rank-0 scalar. NoShape is set by the reader when the model declares no
// shape at all (rank unknown); the writer always writes a shape.
type ValueInfo struct {
	Name    string
	Type    DataType
	Dims    []Dim
	NoShape bool
}

// Dim is one dimension: fixed (Param == "" and Value > 0), symbolic
// (Param != ""), or unknown (neither).
type Dim struct {
	Value int64
	Param string
}

// Fixed reports whether the dimension has a known size.
func (d Dim) Fixed() bool { return d.Param == "" && d.Value > 0 }

// Sym returns a symbolic dimension.
func Sym(name string) Dim { return Dim{Param: name} }

// Fix returns a fixed dimension.
func Fix(v int64) Dim { return Dim{Value: v} }
