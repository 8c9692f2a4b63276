package demomodel

import (
	"encoding/binary"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// This file is a write-only encoder for the handful of ONNX messages the demo
// model needs. Generating the protobuf Go types for onnx.proto would drag a
// large generated package into the module for one tiny graph; protowire keeps
// it to a few dozen lines. Field numbers follow onnx/onnx.proto3 exactly.

// ONNX TensorProto.DataType value for float32.
const onnxFloat = 1

// modelProto mirrors the subset of onnx.ModelProto we emit.
type modelProto struct {
	irVersion    int64
	producerName string
	opsetVersion int64 // default ("") domain only
	graph        graphProto
}

// graphProto mirrors the subset of onnx.GraphProto we emit.
type graphProto struct {
	name         string
	nodes        []nodeProto
	initializers []tensorProto
	inputs       []valueInfoProto
	outputs      []valueInfoProto
}

// nodeProto mirrors onnx.NodeProto without attributes (no op we use needs one).
type nodeProto struct {
	name    string
	opType  string
	inputs  []string
	outputs []string
}

// tensorProto is a float32 initializer stored as little-endian raw_data.
type tensorProto struct {
	name string
	dims []int64
	data []float32
}

// valueInfoProto describes a float32 graph input or output.
type valueInfoProto struct {
	name string
	dims []dimension
}

// dimension is either a fixed size (param == "") or a symbolic one.
type dimension struct {
	value int64
	param string
}

func (m *modelProto) marshal() []byte {
	var b []byte
	b = appendVarintField(b, 1, uint64(m.irVersion))      // ir_version
	b = appendStringField(b, 2, m.producerName)           // producer_name
	b = appendMessageField(b, 7, m.graph.marshal())       // graph
	b = appendMessageField(b, 8, opsetID(m.opsetVersion)) // opset_import
	return b
}

// opsetID encodes an OperatorSetIdProto for the default domain; proto3 omits
// the empty domain string, which ONNX reads as "ai.onnx".
func opsetID(version int64) []byte {
	return appendVarintField(nil, 2, uint64(version)) // version
}

func (g *graphProto) marshal() []byte {
	var b []byte
	for i := range g.nodes {
		b = appendMessageField(b, 1, g.nodes[i].marshal()) // node
	}
	b = appendStringField(b, 2, g.name) // name
	for i := range g.initializers {
		b = appendMessageField(b, 5, g.initializers[i].marshal()) // initializer
	}
	for i := range g.inputs {
		b = appendMessageField(b, 11, g.inputs[i].marshal()) // input
	}
	for i := range g.outputs {
		b = appendMessageField(b, 12, g.outputs[i].marshal()) // output
	}
	return b
}

func (n *nodeProto) marshal() []byte {
	var b []byte
	for _, in := range n.inputs {
		b = appendStringField(b, 1, in) // input
	}
	for _, out := range n.outputs {
		b = appendStringField(b, 2, out) // output
	}
	b = appendStringField(b, 3, n.name)   // name
	b = appendStringField(b, 4, n.opType) // op_type
	return b
}

func (t *tensorProto) marshal() []byte {
	var b []byte
	if len(t.dims) > 0 {
		var packed []byte
		for _, d := range t.dims {
			packed = protowire.AppendVarint(packed, uint64(d))
		}
		b = appendMessageField(b, 1, packed) // dims (packed int64)
	}
	b = appendVarintField(b, 2, onnxFloat) // data_type
	b = appendStringField(b, 8, t.name)    // name
	raw := make([]byte, 4*len(t.data))
	for i, v := range t.data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	b = appendMessageField(b, 9, raw) // raw_data
	return b
}

func (v *valueInfoProto) marshal() []byte {
	var shape []byte
	for _, d := range v.dims {
		var dim []byte
		if d.param != "" {
			dim = appendStringField(dim, 2, d.param) // dim_param
		} else {
			dim = appendVarintField(dim, 1, uint64(d.value)) // dim_value
		}
		shape = appendMessageField(shape, 1, dim) // TensorShapeProto.dim
	}
	var tensor []byte
	tensor = appendVarintField(tensor, 1, onnxFloat) // elem_type
	tensor = appendMessageField(tensor, 2, shape)    // shape
	typ := appendMessageField(nil, 1, tensor)        // TypeProto.tensor_type

	var b []byte
	b = appendStringField(b, 1, v.name) // name
	b = appendMessageField(b, 2, typ)   // type
	return b
}

func appendVarintField(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendStringField(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// appendMessageField writes an embedded message (or any length-delimited
// payload, such as a packed repeated field or raw bytes).
func appendMessageField(b []byte, num protowire.Number, payload []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, payload)
}
