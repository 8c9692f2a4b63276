package archive

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// An index page lists, one line per job, where its record is:
// job_id, revision, segment key, offset and length, tab-separated, sorted
// by job id and gzip'd (archive/index/<page>.tsv.gz; s3layout says which
// page a job is on). A lookup reads the job's page, then the record's
// bytes: two reads.

// maxPageBytes bounds a page as read back (unpacked): a hash page holds
// 1/64 of the request_id jobs ever archived, about 110 bytes each.
const maxPageBytes = 64 << 20

// errPageTooLarge: a page over maxPageBytes, refused.
var errPageTooLarge = errors.New("index page over the size limit")

// page is an index page's entries by job id.
type page map[string]location

// merge adds entries, keeping for each job the one of the newest
// revision: a job ended again (a retry of a failed one, a request_id used
// again once its record left KV) is found at its last ending.
func (p page) merge(entries []location) (changed bool) {
	for _, e := range entries {
		if old, ok := p[e.JobID]; ok && (old.Revision > e.Revision || old == e) {
			continue
		}
		p[e.JobID] = e
		changed = true
	}
	return changed
}

func encodePage(p page) []byte {
	var body bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&body, gzip.BestSpeed) // a valid level: no error
	w := bufio.NewWriter(zw)
	for _, id := range slices.Sorted(maps.Keys(p)) {
		e := p[id]
		fmt.Fprintf(w, "%s\t%d\t%s\t%d\t%d\n", e.JobID, e.Revision, e.Segment, e.Offset, e.Length)
	}
	_ = w.Flush() // into a bytes.Buffer: no error
	_ = zw.Close()
	return body.Bytes()
}

// decodePage reads a page as encodePage wrote it, within maxPageBytes
// unpacked. S3's own errors come back unwrapped, so a caller can tell a
// missing page.
func decodePage(body io.Reader) (page, error) {
	zr, err := gzip.NewReader(body)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(zr, maxPageBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxPageBytes {
		return nil, fmt.Errorf("more than %d bytes: %w", maxPageBytes, errPageTooLarge)
	}
	p := page{}
	for n, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if line == "" {
			continue
		}
		e, err := parseEntry(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		p.merge([]location{e})
	}
	return p, nil
}

func parseEntry(line string) (location, error) {
	f := strings.Split(line, "\t")
	if len(f) != 5 || f[0] == "" || !strings.HasPrefix(f[2], "archive/segments/") {
		return location{}, fmt.Errorf("want job_id, revision, segment, offset, length: %q", line)
	}
	rev, err1 := strconv.ParseUint(f[1], 10, 64)
	off, err2 := strconv.ParseInt(f[3], 10, 64)
	n, err3 := strconv.ParseInt(f[4], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil || off < 0 || n <= 0 || n > maxArchivedBytes {
		return location{}, fmt.Errorf("bad numbers in %q", line)
	}
	return location{JobID: f[0], Revision: rev, Segment: f[2], Offset: off, Length: n}, nil
}
