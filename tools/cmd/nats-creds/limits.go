package main

import (
	"fmt"
	"strconv"
	"strings"

	"cyberimage/shared/natsauth"
)

// setLimits bounds the account's JetStream storage from sizes such as
// "64GiB", "512MiB" or a byte count.
func setLimits(a *natsauth.Authority, disk, memory string) error {
	d, err := parseSize(disk)
	if err != nil {
		return fmt.Errorf("--js-max-disk: %w", err)
	}
	m, err := parseSize(memory)
	if err != nil {
		return fmt.Errorf("--js-max-mem: %w", err)
	}
	return a.SetJetStreamLimits(d, m)
}

func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		bytes  int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
			if err != nil || v < 0 {
				return 0, fmt.Errorf("size %q: a whole number of %s", s, u.suffix)
			}
			return v * u.bytes, nil
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("size %q: bytes, or a number with TiB, GiB, MiB or KiB", s)
	}
	return v, nil
}
