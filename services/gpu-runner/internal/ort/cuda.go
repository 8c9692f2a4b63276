package ort

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	onnx "github.com/yalue/onnxruntime_go"
)

// CUDAProviderLibraries are the files ORT loads for its CUDA execution
// provider. They must sit beside the ORT library and come from the same ORT
// release; the npm package onnxruntime-node does not carry them.
var CUDAProviderLibraries = []string{"libonnxruntime_providers_shared.so", "libonnxruntime_providers_cuda.so"}

// CUDAProviderProblem says why CUDA execution is not possible with the ORT
// library at libPath, naming the missing file; nil when the provider
// libraries are in place.
func CUDAProviderProblem(libPath string) error {
	dir := filepath.Dir(libPath)
	var missing []error
	for _, name := range CUDAProviderLibraries {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, fmt.Errorf("%s is missing", p))
		}
	}
	return errors.Join(missing...)
}

func appendCUDA(so *onnx.SessionOptions, device int) error {
	cuda, err := onnx.NewCUDAProviderOptions()
	if err != nil {
		return err
	}
	defer cuda.Destroy()
	if err := cuda.Update(map[string]string{"device_id": strconv.Itoa(device)}); err != nil {
		return err
	}
	return so.AppendExecutionProviderCUDA(cuda)
}
