package demomodel

import (
	"math"
	"math/rand/v2"
)

// pcgStream is the second PCG seed word. It is fixed so that one uint64 seed
// names one model; changing it would change every generated model.
const pcgStream = 0x9e3779b97f4a7c15

// scales are the standard deviations of the Gaussian weights. The "gain"
// values are divided by sqrt(fan-in), so pre-activations keep roughly that
// standard deviation whatever LatentSize and HiddenSize are.
type scales struct {
	// coord (weights on x and y) sets the spatial frequency: coords span
	// [-1,1], so larger values put more bands and blobs into the frame.
	coord float64
	// radial is the std of the weights on r. r has a cusp at the centre, so a
	// large weight there pins every picture to a pinwheel around the origin.
	radial float64
	// latentGain: latents are expected ~N(0,1); each neuron gets an offset of
	// about this size, enough that different latents give clearly different
	// pictures rather than small shifts of one.
	latentGain float64
	// hiddenGain: above ~1 the Sin layers fold the field into bands and
	// swirls; around 4 the picture gets busy, far above it turns to noise.
	hiddenGain float64
	// bias shifts neurons so the Sin layers are not odd functions of the
	// centre (which would make every picture point-symmetric).
	bias float64
	// outGain spreads the Sigmoid input and hence sets colour saturation;
	// much above 2 most pixels clip to pure primaries.
	outGain float64
	// outBias tints the whole picture; kept small so hues vary per latent.
	outBias float64
}

// tuned are the scales of the committed model, chosen by eye on rendered
// samples: smooth colour fields with wavy bands, neither flat nor noisy.
var tuned = scales{
	coord:      1.5,
	radial:     0.3,
	latentGain: 1.5,
	hiddenGain: 3.0,
	bias:       1.0,
	outGain:    1.8,
	outBias:    0.1,
}

// weights holds every initializer of the demo CPPN, row-major.
type weights struct {
	coords  []float32   // [3, H]; rows x, y, r
	latent  []float32   // [Z, H]
	biasIn  []float32   // [H]
	hidden  [][]float32 // per hidden layer [H, H]
	biasHid [][]float32 // per hidden layer [H]
	out     []float32   // [H, 3]
	biasOut []float32   // [3]
}

// newWeights draws all weights from one PCG stream in a fixed order, so the
// result (and therefore the serialized model) depends only on seed and sc.
func newWeights(seed uint64, sc scales) weights {
	rng := rand.New(rand.NewPCG(seed, pcgStream))
	gauss := func(n int, std float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * std)
		}
		return v
	}
	h := float64(HiddenSize)
	w := weights{
		coords: append(gauss(2*HiddenSize, sc.coord), gauss(HiddenSize, sc.radial)...),
		latent: gauss(LatentSize*HiddenSize, sc.latentGain/math.Sqrt(LatentSize)),
		biasIn: gauss(HiddenSize, sc.bias),
	}
	for range hiddenActivations {
		w.hidden = append(w.hidden, gauss(HiddenSize*HiddenSize, sc.hiddenGain/math.Sqrt(h)))
		w.biasHid = append(w.biasHid, gauss(HiddenSize, sc.bias))
	}
	w.out = gauss(HiddenSize*3, sc.outGain/math.Sqrt(h))
	w.biasOut = gauss(3, sc.outBias)
	return w
}
