// Command gen-demo-model writes the demo CPPN ONNX model (see
// internal/demomodel) to a file and prints its size and sha256, so the
// committed infra/models/demo/model.onnx can be regenerated and checked.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"cyberimage/services/gpu-runner/internal/demomodel"
)

func main() {
	out := flag.String("out", "infra/models/demo/model.onnx", "output path (relative to the current directory)")
	seed := flag.Uint64("seed", demomodel.DefaultSeed, "weight seed; the committed model uses the default")
	flag.Parse()

	if err := run(*out, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "gen-demo-model:", err)
		os.Exit(1)
	}
}

func run(out string, seed uint64) error {
	model := demomodel.Build(seed)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(out, model, 0o644); err != nil {
		return err
	}
	sum := sha256.Sum256(model)
	fmt.Printf("%s\n  size   %d bytes\n  sha256 %s\n  seed   %d\n", out, len(model), hex.EncodeToString(sum[:]), seed)
	return nil
}
