// Package quota is the fair-use limits of each client: how many of its jobs
// may wait queued at once, and how many requests it may have accepted a
// minute. Ingest enforces them; the supervisor shows them beside each
// client's use. Both read the same setting (CYBERIMAGE_QUOTAS), parsed
// here once.
package quota

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Limits are one client's limits; 0 means no limit.
type Limits struct {
	MaxQueued int `json:"max_queued"`
	PerMinute int `json:"per_minute"`
}

// Unlimited says whether l limits nothing.
func (l Limits) Unlimited() bool { return l.MaxQueued <= 0 && l.PerMinute <= 0 }

// Table is the limits of every client: named ones, and Default for the
// rest (including "default", the bare subject's shared pool, unless it is
// named).
type Table struct {
	Default Limits            `json:"default"`
	Clients map[string]Limits `json:"clients,omitempty"`
}

// For is the limits of client.
func (t Table) For(client string) Limits {
	if l, ok := t.Clients[client]; ok {
		return l
	}
	return t.Default
}

// Enabled says whether any client has a limit: without one, ingest need
// not count anything.
func (t Table) Enabled() bool {
	if !t.Default.Unlimited() {
		return true
	}
	for _, l := range t.Clients {
		if !l.Unlimited() {
			return true
		}
	}
	return false
}

// Parse reads a table written as space- or comma-separated entries
// "client=queued/per_minute", with "*" for every client not named, and 0
// or an empty side for no limit:
//
//	*=100/60 alice=1000/600 batch=5000/ http:submit=50/30
//
// An empty string limits nothing.
func Parse(s string) (Table, error) {
	t := Table{Clients: map[string]Limits{}}
	for _, entry := range Fields(s) {
		client, spec, ok := strings.Cut(entry, "=")
		if !ok || client == "" {
			return Table{}, fmt.Errorf("quota %q: want client=queued/per_minute", entry)
		}
		l, err := parseLimits(spec)
		if err != nil {
			return Table{}, fmt.Errorf("quota %q: %w", entry, err)
		}
		if client == "*" {
			t.Default = l
			continue
		}
		if _, dup := t.Clients[client]; dup {
			return Table{}, fmt.Errorf("quota %q: client %s given twice", entry, client)
		}
		t.Clients[client] = l
	}
	return t, nil
}

func parseLimits(spec string) (Limits, error) {
	queued, perMinute, ok := strings.Cut(spec, "/")
	if !ok {
		return Limits{}, fmt.Errorf("want queued/per_minute (0 or empty: no limit)")
	}
	var l Limits
	var err error
	if l.MaxQueued, err = count(queued); err != nil {
		return Limits{}, fmt.Errorf("queued: %w", err)
	}
	if l.PerMinute, err = count(perMinute); err != nil {
		return Limits{}, fmt.Errorf("per_minute: %w", err)
	}
	return l, nil
}

func count(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a count", s)
	}
	return n, nil
}

// Fields splits a list setting into its entries, separated by spaces,
// commas, tabs or newlines: Parse's form, and that of the other settings
// listing one entry per client (the supervisor's client tokens), so an
// operator writes them all alike.
func Fields(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' || r == '\n' })
}

// String writes t back in Parse's form, clients in name order.
func (t Table) String() string {
	parts := []string{"*=" + t.Default.String()}
	names := make([]string, 0, len(t.Clients))
	for n := range t.Clients {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		parts = append(parts, n+"="+t.Clients[n].String())
	}
	return strings.Join(parts, " ")
}

// String is "queued/per_minute".
func (l Limits) String() string { return strconv.Itoa(l.MaxQueued) + "/" + strconv.Itoa(l.PerMinute) }
