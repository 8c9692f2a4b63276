package onnxpb

import (
	"errors"
	"fmt"
	"io"
	"os"

	"google.golang.org/protobuf/encoding/protowire"
)

// ErrMalformed marks a file that is not a well-formed ModelProto.
var ErrMalformed = errors.New("onnxpb: malformed model")

// maxValueInfo bounds the size of one input or output declaration read into
// memory; real ones are a few hundred bytes.
const maxValueInfo = 1 << 20

// ReadGraphIO returns the graph inputs and outputs a model file declares.
// It reads only field headers and the small declarations: weights stored in
// the file (hundreds of MB for a text encoder) are skipped by offset, never
// read. Inputs that are initializers (IR < 4 models) are listed as the file
// lists them.
func ReadGraphIO(path string) (inputs, outputs []ValueInfo, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	r := fieldReader{r: f}
	found := false
	err = r.each(0, st.Size(), func(num protowire.Number, typ protowire.Type, off, n int64) error {
		if num != 7 || typ != protowire.BytesType { // ModelProto.graph
			return nil
		}
		found = true
		return r.each(off, off+n, func(num protowire.Number, typ protowire.Type, off, n int64) error {
			if (num != 11 && num != 12) || typ != protowire.BytesType { // GraphProto.input, output
				return nil
			}
			if n > maxValueInfo {
				return fmt.Errorf("%w: value info of %d bytes", ErrMalformed, n)
			}
			buf := make([]byte, n)
			if _, err := r.r.ReadAt(buf, off); err != nil {
				return fmt.Errorf("%w: %w", ErrMalformed, err)
			}
			vi, err := parseValueInfo(buf)
			if err != nil {
				return err
			}
			if num == 11 {
				inputs = append(inputs, vi)
			} else {
				outputs = append(outputs, vi)
			}
			return nil
		})
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	if !found {
		return nil, nil, fmt.Errorf("read %s: %w: no graph", path, ErrMalformed)
	}
	return inputs, outputs, nil
}

// fieldReader walks the fields of a message stored at a byte range of a
// file, reading only each field's header.
type fieldReader struct {
	r io.ReaderAt
}

// each calls fn with the number, wire type and payload range of every field
// in [start, end). For length-delimited fields the range is the payload; for
// others fn gets n = 0 and the field is skipped.
func (fr fieldReader) each(start, end int64, fn func(num protowire.Number, typ protowire.Type, off, n int64) error) error {
	var hdr [2 * binaryMaxVarintLen]byte
	for off := start; off < end; {
		m, err := fr.r.ReadAt(hdr[:min(int64(len(hdr)), end-off)], off)
		if m == 0 && err != nil {
			return fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		b := hdr[:m]
		num, typ, tl := protowire.ConsumeTag(b)
		if tl < 0 {
			return fmt.Errorf("%w: bad tag at offset %d", ErrMalformed, off)
		}
		var payloadOff, payloadLen, next int64
		switch typ {
		case protowire.BytesType:
			l, ll := protowire.ConsumeVarint(b[tl:])
			if ll < 0 {
				return fmt.Errorf("%w: bad length at offset %d", ErrMalformed, off)
			}
			payloadOff = off + int64(tl+ll)
			payloadLen = int64(l)
			next = payloadOff + payloadLen
		case protowire.VarintType:
			_, vl := protowire.ConsumeVarint(b[tl:])
			if vl < 0 {
				return fmt.Errorf("%w: bad varint at offset %d", ErrMalformed, off)
			}
			next = off + int64(tl+vl)
		case protowire.Fixed32Type:
			next = off + int64(tl) + 4
		case protowire.Fixed64Type:
			next = off + int64(tl) + 8
		default:
			return fmt.Errorf("%w: wire type %d at offset %d", ErrMalformed, typ, off)
		}
		if next > end || payloadLen < 0 {
			return fmt.Errorf("%w: field %d at offset %d runs past its message", ErrMalformed, num, off)
		}
		if err := fn(num, typ, payloadOff, payloadLen); err != nil {
			return err
		}
		off = next
	}
	return nil
}

// binaryMaxVarintLen is the longest varint encoding (of a uint64).
const binaryMaxVarintLen = 10

// parseValueInfo decodes a ValueInfoProto held in memory.
func parseValueInfo(b []byte) (ValueInfo, error) {
	vi := ValueInfo{NoShape: true}
	err := walk(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType: // name
			vi.Name = string(v)
		case num == 2 && typ == protowire.BytesType: // type
			return walk(v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
				if num != 1 || typ != protowire.BytesType { // TypeProto.tensor_type only
					return nil
				}
				return parseTensorType(v, &vi)
			})
		}
		return nil
	})
	return vi, err
}

// parseTensorType decodes a TypeProto.Tensor into vi.
func parseTensorType(b []byte, vi *ValueInfo) error {
	return walk(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == 1 && typ == protowire.VarintType: // elem_type
			vi.Type = DataType(x)
		case num == 2 && typ == protowire.BytesType: // shape
			vi.NoShape = false
			vi.Dims = vi.Dims[:0]
			return walk(v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
				if num != 1 || typ != protowire.BytesType { // TensorShapeProto.dim
					return nil
				}
				var d Dim
				err := walk(v, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
					switch {
					case num == 1 && typ == protowire.VarintType: // dim_value
						d.Value = int64(x)
					case num == 2 && typ == protowire.BytesType: // dim_param
						d.Param = string(v)
					}
					return nil
				})
				vi.Dims = append(vi.Dims, d)
				return err
			})
		}
		return nil
	})
}

// walk calls fn for each field of an in-memory message: v is the payload of
// a length-delimited field, x the value of a varint one.
func walk(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %w", ErrMalformed, protowire.ParseError(n))
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("%w: field %d: %w", ErrMalformed, num, protowire.ParseError(n))
		}
		b = b[n:]
		if err := fn(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}
