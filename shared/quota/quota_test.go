package quota

import (
	"reflect"
	"testing"
)

func TestParse(t *testing.T) {
	got, err := Parse("*=100/60, alice=1000/600 batch=5000/ http:submit=/30")
	if err != nil {
		t.Fatal(err)
	}
	want := Table{Default: Limits{100, 60}, Clients: map[string]Limits{
		"alice": {1000, 600}, "batch": {5000, 0}, "http:submit": {0, 30}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Parse = %+v, want %+v", got, want)
	}
	if l := got.For("bob"); l != (Limits{100, 60}) {
		t.Errorf("For(bob) = %v, want the default", l)
	}
	if l := got.For("batch"); l != (Limits{5000, 0}) {
		t.Errorf("For(batch) = %v", l)
	}
	back, err := Parse(got.String())
	if err != nil || !reflect.DeepEqual(back, got) {
		t.Errorf("String round trip: %v %+v", err, back)
	}
	if !got.Enabled() {
		t.Error("a table with limits is not enabled")
	}
}

func TestParseEmptyLimitsNothing(t *testing.T) {
	got, err := Parse("")
	if err != nil || got.Enabled() || !got.For("anyone").Unlimited() {
		t.Fatalf("Parse(\"\") = %+v, %v", got, err)
	}
	if got, _ := Parse("*=0/0 alice=/"); got.Enabled() {
		t.Error("zero limits are enabled")
	}
}

func TestParseRefuses(t *testing.T) {
	for _, bad := range []string{"alice", "=1/1", "alice=1", "alice=x/1", "alice=1/-2", "alice=1/1 alice=2/2"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) took it", bad)
		}
	}
}

// Entries are separated by any mix of spaces, commas, tabs and newlines;
// nothing between two separators is no entry.
func TestFields(t *testing.T) {
	if got, want := Fields(" a=1/2,,b=TOKEN\tc\n d, "), []string{"a=1/2", "b=TOKEN", "c", "d"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got := Fields(" ,\t\n"); len(got) != 0 {
		t.Fatalf("separators only: got %q", got)
	}
}
