package onnxpb

import (
	"encoding/binary"
	"math"
)

// Tensor is an initializer stored as little-endian raw_data, as exporters
// write them.
type Tensor struct {
	Name string
	Dims []int64
	Type DataType
	Raw  []byte
}

// FloatTensor returns a float32 initializer.
func FloatTensor(name string, data []float32, dims ...int64) Tensor {
	raw := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return Tensor{Name: name, Dims: dims, Type: Float, Raw: raw}
}

// Int64Tensor returns an int64 initializer (shapes, axes and the like).
func Int64Tensor(name string, data []int64, dims ...int64) Tensor {
	raw := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
	}
	return Tensor{Name: name, Dims: dims, Type: Int64, Raw: raw}
}

// Attr is an onnx.AttributeProto of one of the kinds below; build it with
// AttrInt, AttrInts, AttrFloat or AttrString.
type Attr struct {
	Name string
	kind attrKind
	i    int64
	f    float32
	s    string
	ints []int64
}

// attrKind is onnx.AttributeProto.AttributeType.
type attrKind int32

const (
	attrFloat  attrKind = 1
	attrInt    attrKind = 2
	attrString attrKind = 3
	attrInts   attrKind = 7
)

// AttrInt returns an INT attribute.
func AttrInt(name string, v int64) Attr { return Attr{Name: name, kind: attrInt, i: v} }

// AttrInts returns an INTS attribute.
func AttrInts(name string, v ...int64) Attr { return Attr{Name: name, kind: attrInts, ints: v} }

// AttrFloat returns a FLOAT attribute.
func AttrFloat(name string, v float32) Attr { return Attr{Name: name, kind: attrFloat, f: v} }

// AttrString returns a STRING attribute.
func AttrString(name string, v string) Attr { return Attr{Name: name, kind: attrString, s: v} }
