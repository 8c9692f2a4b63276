package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// report collects check results and measured figures, prints progress
// lines as the run goes, and the summary tables at the end.
type report struct {
	out   io.Writer
	start time.Time

	mu      sync.Mutex
	checks  []checkResult
	figures []figure
}

type checkResult struct {
	name   string
	pass   bool
	detail string
}

type figure struct {
	name  string
	value string
}

func newReport(out io.Writer) *report { return &report{out: out, start: time.Now()} }

// progress prints one line about a stage, stamped with the time since start.
func (r *report) progress(stage, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.out, "[%6.1fs] %s: %s\n", time.Since(r.start).Seconds(), stage, fmt.Sprintf(format, args...))
}

// check records a result and echoes it as a progress line, so a run that is
// interrupted still shows what it found.
func (r *report) check(name string, pass bool, format string, args ...any) {
	c := checkResult{name: name, pass: pass, detail: fmt.Sprintf(format, args...)}
	r.mu.Lock()
	r.checks = append(r.checks, c)
	r.mu.Unlock()
	if stage, what, ok := strings.Cut(name, ":"); ok {
		r.progress(stage, "%s %s (%s)", verdict(pass), strings.TrimSpace(what), c.detail)
		return
	}
	r.progress(name, "%s (%s)", verdict(pass), c.detail)
}

// figure records a measurement; it passes or fails nothing.
func (r *report) figure(name, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.figures = append(r.figures, figure{name: name, value: fmt.Sprintf(format, args...)})
}

// failed reports whether any check failed, or none ran at all.
func (r *report) failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.checks) == 0 {
		return true
	}
	for _, c := range r.checks {
		if !c.pass {
			return true
		}
	}
	return false
}

// summary prints the checks and figures as aligned markdown tables.
func (r *report) summary() {
	r.mu.Lock()
	defer r.mu.Unlock()
	passed := 0
	rows := make([][]string, 0, len(r.checks))
	for _, c := range r.checks {
		if c.pass {
			passed++
		}
		rows = append(rows, []string{c.name, verdict(c.pass), c.detail})
	}
	fmt.Fprintf(r.out, "\n## Summary: %d of %d checks passed in %s\n\n", passed, len(r.checks), time.Since(r.start).Round(100*time.Millisecond))
	writeTable(r.out, []string{"check", "result", "detail"}, rows)
	if len(r.figures) > 0 {
		rows = rows[:0]
		for _, f := range r.figures {
			rows = append(rows, []string{f.name, f.value})
		}
		fmt.Fprintln(r.out)
		writeTable(r.out, []string{"figure", "value"}, rows)
	}
}

func verdict(pass bool) string {
	if pass {
		return "PASS"
	}
	return "FAIL"
}

// writeTable prints a markdown table with every column padded to its
// widest cell, so it reads as well in a terminal as rendered.
func writeTable(w io.Writer, header []string, rows [][]string) {
	width := make([]int, len(header))
	for i, h := range header {
		width[i] = len(h)
	}
	for _, row := range rows {
		for i, cell := range row {
			width[i] = max(width[i], len(cell))
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		for i, cell := range cells {
			fmt.Fprintf(&b, "| %-*s ", width[i], cell)
		}
		b.WriteString("|")
		fmt.Fprintln(w, b.String())
	}
	line(header)
	rule := make([]string, len(header))
	for i := range rule {
		rule[i] = strings.Repeat("-", width[i])
	}
	line(rule)
	for _, row := range rows {
		line(row)
	}
}
