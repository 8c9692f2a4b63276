package bus

import "testing"

func TestRequestClient(t *testing.T) {
	for subject, want := range map[string]string{
		SubjectRequests:                "default",
		RequestSubject("default"):      "default",
		RequestSubject("alice"):        "alice",
		HTTPRequestSubject("submit"):   "http:submit",
		RequestSubject("http"):         "http", // a client named http is not an HTTP submission
		"cyberimage.requests.a.b":      "",
		"cyberimage.requests.":         "",
		"cyberimage.requestsX":         "",
		"cyberimage.jobs.sd.x":         "",
		"cyberimage.requests.http.a.b": "",
	} {
		if got := RequestClient(subject); got != want {
			t.Errorf("RequestClient(%q) = %q, want %q", subject, got, want)
		}
	}
}

// A record that names no client predates per-client subjects: it came on
// the bare subject and counts as the default client's.
func TestRecordClient(t *testing.T) {
	for client, want := range map[string]string{"": DefaultClient, "alice": "alice", "http:submit": "http:submit", DefaultClient: DefaultClient} {
		if got := RecordClient(client); got != want {
			t.Errorf("RecordClient(%q) = %q, want %q", client, got, want)
		}
	}
}
