// Package demomodel generates the demo image model: a CPPN (compositional
// pattern producing network), i.e. a per-pixel MLP mapping pixel coordinates
// plus a latent vector to a colour. Random weights already give smooth,
// colourful abstract pictures, so the runner can be exercised end to end
// without shipping trained weights.
package demomodel

import (
	"fmt"

	"cyberimage/services/gpu-runner/internal/onnxpb"
)

// LatentSize is the length of the latent vector that selects a picture.
const LatentSize = 16

// HiddenSize is the width of every hidden layer of the CPPN.
const HiddenSize = 32

// DefaultSeed is the seed of the committed model at infra/models/demo/model.onnx.
const DefaultSeed uint64 = 20261129

// Graph contract. These names are what callers bind tensors to.
const (
	// InputCoords is float32 [pixels, 3]; each row is (x, y, r) with x, y in
	// [-1, 1] and r = sqrt(x²+y²).
	InputCoords = "coords"
	// InputLatent is float32 [batch, 1, LatentSize].
	InputLatent = "latent"
	// OutputRGB is float32 [batch, pixels, 3] with values in [0, 1].
	OutputRGB = "rgb"
)

const (
	// irVersion 8 and opset 17 are old enough for any ORT of the last years
	// and new enough for every op used here.
	irVersion    = 8
	opsetVersion = 17
	producerName = "cyberimage-demomodel"
)

// hiddenActivations lists the activation of each [H,H] layer after the input
// layer (which is always Tanh). Alternating Sin (periodic bands, swirls) with
// Tanh (soft saturation, flat colour fields) gives varied but smooth pictures.
var hiddenActivations = []string{"Sin", "Tanh", "Sin"}

// Build returns the serialized ONNX ModelProto of the demo CPPN for seed. The
// output is deterministic byte for byte.
func Build(seed uint64) []byte {
	m := onnxpb.Model{
		IRVersion:    irVersion,
		ProducerName: producerName,
		Opset:        opsetVersion,
		Graph:        buildGraph(newWeights(seed, tuned)),
	}
	return m.Marshal()
}

// buildGraph wires the CPPN:
//
//	hc  = coords·Wc                  [P,H]
//	hz  = latent·Wz + b0             [B,1,H]  (bias folded here: it is tiny)
//	h0  = Tanh(hc + hz)              [B,P,H]  (broadcast)
//	hi  = act_i(h(i-1)·Wi + bi)      for each hidden layer
//	rgb = Sigmoid(hL·Wo + bo)        [B,P,3]
func buildGraph(w weights) onnxpb.Graph {
	g := onnxpb.Graph{Name: "demo_cppn"}
	const h = HiddenSize
	init := func(name string, data []float32, dims ...int64) string {
		g.Initializers = append(g.Initializers, onnxpb.FloatTensor(name, data, dims...))
		return name
	}
	node := func(op, out string, in ...string) string {
		g.Nodes = append(g.Nodes, onnxpb.Node{Name: out + "_" + op, OpType: op, Inputs: in, Outputs: []string{out}})
		return out
	}

	hc := node("MatMul", "coords_proj", InputCoords, init("w_coords", w.coords, 3, h))
	hz := node("MatMul", "latent_proj", InputLatent, init("w_latent", w.latent, LatentSize, h))
	hz = node("Add", "latent_bias", hz, init("b_in", w.biasIn, h))
	x := node("Tanh", "h0", node("Add", "mix", hc, hz))
	for i, act := range hiddenActivations {
		l := i + 1
		x = node("MatMul", fmt.Sprintf("mm%d", l), x, init(fmt.Sprintf("w%d", l), w.hidden[i], h, h))
		x = node("Add", fmt.Sprintf("pre%d", l), x, init(fmt.Sprintf("b%d", l), w.biasHid[i], h))
		x = node(act, fmt.Sprintf("h%d", l), x)
	}
	x = node("MatMul", "mm_out", x, init("w_out", w.out, h, 3))
	x = node("Add", "pre_out", x, init("b_out", w.biasOut, 3))
	node("Sigmoid", OutputRGB, x)

	g.Inputs = []onnxpb.ValueInfo{
		{Name: InputCoords, Type: onnxpb.Float, Dims: []onnxpb.Dim{onnxpb.Sym("pixels"), onnxpb.Fix(3)}},
		{Name: InputLatent, Type: onnxpb.Float, Dims: []onnxpb.Dim{onnxpb.Sym("batch"), onnxpb.Fix(1), onnxpb.Fix(LatentSize)}},
	}
	g.Outputs = []onnxpb.ValueInfo{
		{Name: OutputRGB, Type: onnxpb.Float, Dims: []onnxpb.Dim{onnxpb.Sym("batch"), onnxpb.Sym("pixels"), onnxpb.Fix(3)}},
	}
	return g
}
