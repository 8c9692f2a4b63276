package benchstack

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"cyberimage/shared/job"
)

// RunFlags are the flags every bench that builds the services takes, with
// one meaning in all of them. Set Out and Deadline to the bench's defaults
// before Register.
type RunFlags struct {
	BinDir   string        // -bin: prebuilt binaries instead of a build
	Out      string        // -out: the bench's output folder
	Deadline time.Duration // -deadline: the whole run, build included
	Quick    bool          // -quick: a smoke run
}

// Register adds the flags to the command line: binaries names what -bin
// replaces, outHolds what -out receives, and quick what -quick shrinks.
func (f *RunFlags) Register(binaries, outHolds, quick string) {
	flag.StringVar(&f.BinDir, "bin", "", "use the "+binaries+" binaries in this folder instead of building them")
	flag.StringVar(&f.Out, "out", f.Out, "folder for "+outHolds)
	flag.DurationVar(&f.Deadline, "deadline", f.Deadline, "the whole run, build included, stops after this")
	flag.BoolVar(&f.Quick, "quick", false, "smoke run: "+quick+" (explicit flags still win)")
}

// Quicken gives the flags named in values their -quick values when -quick
// is set, unless the command line set them: explicit flags still win.
// Each value is spelt as on a command line ("50", "20s"), so it serves
// flags of any kind. The values are the bench's own constants, so one
// that does not parse is a bug and panics.
func (f *RunFlags) Quicken(values map[string]string) {
	if f.Quick {
		quickFlags(flag.CommandLine, values)
	}
}

// quickFlags sets values on fs (Quicken), passing over the flags the
// command line set.
func quickFlags(fs *flag.FlagSet, values map[string]string) {
	set := setFlags(fs)
	for name, v := range values {
		if set[name] {
			continue
		}
		if err := fs.Set(name, v); err != nil {
			panic(fmt.Sprintf("benchstack: -quick default: %v", err))
		}
	}
}

// setFlags is the flags the command line set.
func setFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// RisingCounts reads a flag's comma-separated list of counts, each
// positive and larger than the one before: the steps a bench climbs (fleet
// sizes, record counts).
func RisingCounts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || (len(out) > 0 && n <= out[len(out)-1]) {
			return nil, fmt.Errorf("%q is not a rising list of positive counts", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// ValidSide is whether n is an image side a job may ask for, as the job
// schema bounds it: the benches refuse a -size ingest would reject.
func ValidSide(n int) bool {
	return n >= job.MinSide && n <= job.MaxSide && n%job.SideMultiple == 0
}
