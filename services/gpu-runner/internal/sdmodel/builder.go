package sdmodel

import (
	"math"
	"math/rand/v2"

	"cyberimage/services/gpu-runner/internal/onnxpb"
)

// builder accumulates one graph's nodes and initializers and draws its
// weights from one PCG stream in a fixed order, so each graph depends only
// on the seed and its own stream (changing one graph leaves the others'
// bytes alone).
type builder struct {
	g   onnxpb.Graph
	rng *rand.Rand
}

// Streams of the three graphs' weights.
const (
	streamText uint64 = 0x7e47
	streamUNet uint64 = 0x0e7
	streamVAE  uint64 = 0x0ae
)

func newBuilder(name string, seed, stream uint64) *builder {
	return &builder{g: onnxpb.Graph{Name: name}, rng: rand.New(rand.NewPCG(seed, stream))}
}

// gauss adds a float initializer of N(0, std²) values.
func (b *builder) gauss(name string, std float64, dims ...int64) string {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(b.rng.NormFloat64() * std)
	}
	return b.floats(name, v, dims...)
}

// fanIn returns std for weights feeding a unit from n inputs with the given
// gain, so pre-activations have about that standard deviation.
func fanIn(gain float64, n int) float64 { return gain / math.Sqrt(float64(n)) }

func (b *builder) floats(name string, v []float32, dims ...int64) string {
	b.g.Initializers = append(b.g.Initializers, onnxpb.FloatTensor(name, v, dims...))
	return name
}

func (b *builder) ints(name string, v []int64, dims ...int64) string {
	b.g.Initializers = append(b.g.Initializers, onnxpb.Int64Tensor(name, v, dims...))
	return name
}

// node adds a node with one output named out and returns out.
func (b *builder) node(op, out string, inputs []string, attrs ...onnxpb.Attr) string {
	b.g.Nodes = append(b.g.Nodes, onnxpb.Node{Name: out + "_" + op, OpType: op, Inputs: inputs, Outputs: []string{out}, Attrs: attrs})
	return out
}

func in(names ...string) []string { return names }
