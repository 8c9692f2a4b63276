// Command gpu-check tells what a runner on this machine would find and do
// with its GPUs: every GPU NVML lists with its telemetry, whether ONNX
// Runtime's CUDA provider libraries sit beside the ORT library, and, for
// each GPU, the demo model opened on it (memory taken on the device, one
// job timed against the CPU, the pictures compared). `make gpu-check` runs
// it; on a machine without an NVIDIA GPU it says so and exits 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"cyberimage/services/gpu-runner/internal/gpu"
	"cyberimage/services/gpu-runner/internal/ort"
	"cyberimage/services/gpu-runner/internal/pipeline"
	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

func main() {
	ortLib := flag.String("ort-lib", envOr("CYBERIMAGE_ORT_LIB", ".tools/ort/libonnxruntime.so.1"), "ONNX Runtime shared library [CYBERIMAGE_ORT_LIB]")
	model := flag.String("model", "infra/models/demo/model.onnx", "demo model file")
	size := flag.Int("size", 512, "width and height of the timed job")
	flag.Parse()
	found, err := check(*ortLib, *model, *size)
	switch {
	case err != nil:
		fmt.Println("FAIL:", err)
		os.Exit(1)
	case !found:
		os.Exit(0)
	}
	fmt.Println("OK: the runner will run its models on the GPUs above")
}

// check prints what it finds; found is false when there is no GPU.
func check(ortLib, model string, size int) (found bool, err error) {
	enc := zap.NewDevelopmentEncoderConfig()
	enc.TimeKey = ""
	logger := zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.AddSync(os.Stdout), zap.InfoLevel))
	nv := gpu.Open(logger)
	defer nv.Close()
	gpus := nv.GPUs()
	if len(gpus) == 0 {
		fmt.Println("no NVIDIA GPU on this machine (see the NVML line above): a runner here uses the CPU; nothing to check")
		return false, nil
	}
	for _, g := range gpus {
		printGPU(g)
	}
	if problem := ort.CUDAProviderProblem(ortLib); problem != nil {
		return true, fmt.Errorf("%w\nONNX Runtime's GPU build must sit beside %s (docs/gpus.md): the runner would use the CPU", problem, ortLib)
	}
	if err := ort.Init(ortLib); err != nil {
		return true, err
	}
	spec := job.Spec{Prompt: "gpu-check", Model: "demo", Width: size, Height: size, Steps: 4, Seed: 7, NumImages: 1}
	cpu, cpuTime, err := render(model, nil, spec, func() {})
	if err != nil {
		return true, fmt.Errorf("demo model on the CPU: %w", err)
	}
	fmt.Printf("CPU: %dx%d, %d steps in %s\n", size, size, spec.Steps, cpuTime.Round(time.Millisecond))
	for _, g := range gpus {
		memoryUsed := func() int64 { return int64(byIndex(nv.GPUs(), g.Index).MemoryUsed) }
		before := memoryUsed()
		var whileOpen int64
		index := g.Index
		out, took, err := render(model, &index, spec, func() { whileOpen = memoryUsed() })
		if err != nil {
			return true, fmt.Errorf("demo model on GPU %d: %w", g.Index, err)
		}
		diff := maxDiff(cpu, out)
		fmt.Printf("GPU %d: %dx%d, %d steps in %s (%.1fx the CPU); device memory %+d MiB while open; pixels differ from the CPU's by at most %d/255\n",
			g.Index, size, size, spec.Steps, took.Round(time.Millisecond), cpuTime.Seconds()/took.Seconds(),
			(whileOpen-before)>>20, diff)
		if diff > 8 {
			return true, fmt.Errorf("GPU %d renders a different picture than the CPU (max difference %d/255)", g.Index, diff)
		}
	}
	return true, nil
}

func printGPU(g bus.GPU) {
	fmt.Printf("GPU %d: %s (%s), driver %s; memory %d/%d MiB, utilisation %d%%, %d °C, %.0f W\n",
		g.Index, g.Name, g.UUID, g.Driver, g.MemoryUsed>>20, g.MemoryTotal>>20, g.UtilizationPercent, g.TemperatureC, g.PowerWatts)
}

// byIndex finds a GPU by its NVML index, which is not its position in the
// list when some devices are hidden from the process.
func byIndex(gpus []bus.GPU, index int) bus.GPU {
	for _, g := range gpus {
		if g.Index == index {
			return g
		}
	}
	return bus.GPU{Index: index}
}

// render opens the demo model on a device (nil: the CPU), runs the job once
// to warm up and once timed, and calls whileOpen before it closes the
// model (the device memory it holds is released then).
func render(model string, device *int, spec job.Spec, whileOpen func()) ([]byte, time.Duration, error) {
	gen, err := pipeline.OpenCPPN(model, ort.Options{IntraOpThreads: 1, CUDADevice: device})
	if err != nil {
		return nil, 0, err
	}
	defer gen.Close()
	ctx := context.Background()
	if _, err := gen.Generate(ctx, spec, nil); err != nil {
		return nil, 0, err
	}
	start := time.Now()
	images, err := gen.Generate(ctx, spec, nil)
	if err != nil {
		return nil, 0, err
	}
	took := time.Since(start)
	whileOpen()
	if len(images) != 1 {
		return nil, 0, errors.New("the demo model returned no picture")
	}
	return images[0].RGB, took, nil
}

func maxDiff(a, b []byte) int {
	if len(a) != len(b) {
		return 255
	}
	worst := 0
	for i := range a {
		d := int(a[i]) - int(b[i])
		worst = max(worst, d, -d)
	}
	return worst
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}
