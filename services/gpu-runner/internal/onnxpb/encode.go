package onnxpb

import (
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// onnx.proto is proto2, so a field that is set is written even when it holds
// zero (an attribute i = 0, say): readers may check presence, not value.

// Marshal returns the serialized ModelProto. The output is a pure function
// of m, so generated models are reproducible byte for byte.
func (m *Model) Marshal() []byte {
	var b []byte
	b = appendVarint(b, 1, uint64(m.IRVersion))                    // ir_version
	b = appendString(b, 2, m.ProducerName)                         // producer_name
	b = appendMessage(b, 7, m.Graph.marshal())                     // graph
	b = appendMessage(b, 8, appendVarint(nil, 2, uint64(m.Opset))) // opset_import{version}; empty domain = ai.onnx
	return b
}

func (g *Graph) marshal() []byte {
	var b []byte
	for i := range g.Nodes {
		b = appendMessage(b, 1, g.Nodes[i].marshal()) // node
	}
	b = appendString(b, 2, g.Name) // name
	for i := range g.Initializers {
		b = appendMessage(b, 5, g.Initializers[i].marshal()) // initializer
	}
	for i := range g.Inputs {
		b = appendMessage(b, 11, g.Inputs[i].marshal()) // input
	}
	for i := range g.Outputs {
		b = appendMessage(b, 12, g.Outputs[i].marshal()) // output
	}
	return b
}

func (n *Node) marshal() []byte {
	var b []byte
	for _, in := range n.Inputs {
		b = appendString(b, 1, in) // input
	}
	for _, out := range n.Outputs {
		b = appendString(b, 2, out) // output
	}
	b = appendString(b, 3, n.Name)   // name
	b = appendString(b, 4, n.OpType) // op_type
	for i := range n.Attrs {
		b = appendMessage(b, 5, n.Attrs[i].marshal()) // attribute
	}
	return b
}

func (a *Attr) marshal() []byte {
	var b []byte
	b = appendString(b, 1, a.Name) // name
	switch a.kind {
	case attrFloat:
		b = protowire.AppendTag(b, 2, protowire.Fixed32Type) // f
		b = protowire.AppendFixed32(b, math.Float32bits(a.f))
	case attrInt:
		b = appendVarint(b, 3, uint64(a.i)) // i
	case attrString:
		b = appendString(b, 4, a.s) // s
	case attrInts:
		var packed []byte
		for _, v := range a.ints {
			packed = protowire.AppendVarint(packed, uint64(v))
		}
		b = appendMessage(b, 8, packed) // ints (packed)
	}
	b = appendVarint(b, 20, uint64(a.kind)) // type
	return b
}

func (t *Tensor) marshal() []byte {
	var b []byte
	if len(t.Dims) > 0 {
		var packed []byte
		for _, d := range t.Dims {
			packed = protowire.AppendVarint(packed, uint64(d))
		}
		b = appendMessage(b, 1, packed) // dims (packed)
	}
	b = appendVarint(b, 2, uint64(t.Type)) // data_type
	b = appendString(b, 8, t.Name)         // name
	b = appendMessage(b, 9, t.Raw)         // raw_data
	return b
}

func (v *ValueInfo) marshal() []byte {
	var shape []byte
	for _, d := range v.Dims {
		var dim []byte
		if d.Param != "" {
			dim = appendString(dim, 2, d.Param) // dim_param
		} else {
			dim = appendVarint(dim, 1, uint64(d.Value)) // dim_value
		}
		shape = appendMessage(shape, 1, dim) // TensorShapeProto.dim
	}
	var tensor []byte
	tensor = appendVarint(tensor, 1, uint64(v.Type)) // elem_type
	// An empty shape message is rank 0; leaving it out would mean "any rank".
	tensor = appendMessage(tensor, 2, shape) // shape
	typ := appendMessage(nil, 1, tensor)     // TypeProto.tensor_type

	var b []byte
	b = appendString(b, 1, v.Name) // name
	b = appendMessage(b, 2, typ)   // type
	return b
}

func appendVarint(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// appendMessage writes any length-delimited payload: an embedded message, a
// packed repeated field or raw bytes.
func appendMessage(b []byte, num protowire.Number, payload []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, payload)
}
