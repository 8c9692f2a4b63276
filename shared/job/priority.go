package job

// Priority is a job's class in its model's queue. Runners serve each
// model's classes by weight (PullOrder), so interactive work overtakes a
// queued batch without starving it.
type Priority string

// The priority classes of the request contract, highest first.
const (
	PriorityHigh   Priority = "high"
	PriorityNormal Priority = "normal"
	PriorityLow    Priority = "low"
)

// Priorities lists the classes, highest first.
func Priorities() []Priority { return []Priority{PriorityHigh, PriorityNormal, PriorityLow} }

// Class is the class p stands for: records and work messages from before
// priorities carry none, and are normal.
func (p Priority) Class() Priority {
	if p == "" {
		return PriorityNormal
	}
	return p
}

// Valid reports whether p is one of the classes (or empty: normal).
func (p Priority) Valid() bool { return p.Weight() > 0 }

// Weight is the class's share of a model's pulls while every class has
// work: high 6, normal 3, low 1 (0: not a class).
func (p Priority) Weight() int {
	switch p.Class() {
	case PriorityHigh:
		return 6
	case PriorityNormal:
		return 3
	case PriorityLow:
		return 1
	}
	return 0
}

// PullOrder is the order in which a free slot asks its model's classes for
// work; it takes the first that has some. The order is drawn without
// replacement, each class with a chance proportional to its weight among
// the classes not drawn yet, from intn (rand.IntN; tests inject their
// own). So among the classes that have work, each is taken with a chance
// proportional to its weight (6:3:1 when all have some, 3:1 for normal
// and low when high is empty), and no class is ever starved: while every
// class is backlogged each pull takes low with chance 1/10, independently
// of the pulls before, so the chance that a low job's class is passed
// over n pulls in a row is 0.9^n (under 1% after 44 pulls, under one in a
// million after 132).
func PullOrder(intn func(n int) int) []Priority {
	left := Priorities()
	order := make([]Priority, 0, len(left))
	for len(left) > 0 {
		total := 0
		for _, p := range left {
			total += p.Weight()
		}
		at, i := intn(total), 0
		for at >= left[i].Weight() {
			at -= left[i].Weight()
			i++
		}
		order = append(order, left[i])
		left = append(left[:i:i], left[i+1:]...)
	}
	return order
}
