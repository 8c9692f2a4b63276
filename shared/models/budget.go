package models

import "cyberimage/shared/job"

// DefaultJobMemoryMB is the job memory budget when CYBERIMAGE_JOB_MEMORY_MB
// is 0 and nothing better is known: ingest cannot see the runners' devices,
// and a GPU's budget is not derived from its memory yet. A CPU runner uses
// at most a quarter of the machine's memory (see the runner's registry).
const DefaultJobMemoryMB = 2048

// JobMemoryBytes resolves a CYBERIMAGE_JOB_MEMORY_MB setting: 0 means
// DefaultJobMemoryMB.
func JobMemoryBytes(mb int) int64 {
	if mb <= 0 {
		mb = DefaultJobMemoryMB
	}
	return int64(mb) << 20
}

// WithMemoryBudget is the catalog for validation under a job memory budget
// in bytes: every model's limits carry it, so Normalize refuses a job that
// cannot fit (memory_budget_exceeded). 0 checks nothing.
func (c *Catalog) WithMemoryBudget(bytes int64) job.Models {
	return budgeted{c: c, bytes: bytes}
}

type budgeted struct {
	c     *Catalog
	bytes int64
}

func (b budgeted) Default() string { return b.c.Default() }

func (b budgeted) Lookup(name string) (job.ModelLimits, bool) {
	l, ok := b.c.Lookup(name)
	l.MemoryBudget = b.bytes
	return l, ok
}
