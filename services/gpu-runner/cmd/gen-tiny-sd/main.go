// Command gen-tiny-sd writes the tiny-sd model folder (see internal/sdmodel)
// and prints each file's size and sha256, so the committed
// infra/models/tiny-sd can be regenerated and checked.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"

	"cyberimage/services/gpu-runner/internal/sdmodel"
)

func main() {
	out := flag.String("out", "infra/models/tiny-sd", "output folder (relative to the current directory)")
	seed := flag.Uint64("seed", sdmodel.DefaultSeed, "weight seed; the committed model uses the default")
	flag.Parse()

	if err := run(*out, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "gen-tiny-sd:", err)
		os.Exit(1)
	}
}

func run(out string, seed uint64) error {
	cfg := sdmodel.DefaultConfig()
	cfg.Seed = seed
	if err := sdmodel.Write(out, cfg); err != nil {
		return err
	}
	files, err := sdmodel.Files(cfg)
	if err != nil {
		return err
	}
	total := 0
	fmt.Printf("%s (seed %d)\n", out, seed)
	for _, f := range files {
		sum := sha256.Sum256(f.Data)
		fmt.Printf("  %-32s %7d bytes  sha256 %s\n", f.Path, len(f.Data), hex.EncodeToString(sum[:]))
		total += len(f.Data)
	}
	fmt.Printf("  total %d bytes\n", total)
	return nil
}
