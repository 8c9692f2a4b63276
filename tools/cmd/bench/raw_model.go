package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"cyberimage/tools/internal/benchmodel"
)

// rawModel runs bench-model as a subprocess, so its CPU is its own: the
// demo model alone, one ORT session on one thread, no pipeline. It writes
// the job's PNG to pngPath for the S3 measurement.
func rawModel(ctx context.Context, st *stack, o options, pngPath string) (benchmodel.Model, error) {
	var res benchmodel.Model
	out, _, err := runBenchModel(ctx, st, o, nil, "-runs", strconv.Itoa(o.modelRuns), "-threads", "1", "-max-time", "60s", "-png-out", pngPath)
	if err != nil {
		return res, fmt.Errorf("bench-model: %w", err)
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return res, fmt.Errorf("bench-model output %q: %w", out, err)
	}
	return res, nil
}
