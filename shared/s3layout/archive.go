package s3layout

import (
	"crypto/sha256"
	"fmt"
	"strings"
)

// ArchivePrefix holds the archive of ended job records: segments and the
// index that finds a record in them.
const ArchivePrefix = "archive/"

// ArchiveSegmentKey names a segment of the archive: the records that
// ended at revisions from to to of the record bucket, as gzip'd NDJSON
// (archive/segments/<from>-<to>.ndjson.gz, both 20 digits, so a listing is
// in revision order). The name is a function of what the segment holds: a
// segment written again after a crash has the same name and content, or
// another name next to it; never a different content under the same name.
func ArchiveSegmentKey(from, to uint64) string { return ArchiveSegmentKeyAt(from, to, 0) }

// ArchiveSegmentKeyAt is the segment's key for the write's try-th retry
// (0: the first try, ArchiveSegmentKey): <from>-<to>.<try>.ndjson.gz, the
// same content next to the first name. A retry writes anew rather than
// over the first key because MinIO holds the lock of an object a lost node
// was committing for 1-2 minutes; the index names the key written.
func ArchiveSegmentKeyAt(from, to uint64, try int) string {
	if try == 0 {
		return fmt.Sprintf("%ssegments/%020d-%020d.ndjson.gz", ArchivePrefix, from, to)
	}
	return fmt.Sprintf("%ssegments/%020d-%020d.%d.ndjson.gz", ArchivePrefix, from, to, try)
}

// ArchiveIndexKey is the index page that locates jobID's archived record:
// archive/index/<page>.tsv.gz. A time-ordered id (a ULID) goes to the page
// of its 33-second window of creation, so the jobs that end together share
// one or two pages and a page stops changing once its jobs have ended; any
// other id (a request_id id is a hash, with no time in it) to one of 64
// pages by a hash of the id.
func ArchiveIndexKey(jobID string) string {
	return ArchivePrefix + "index/" + archivePage(jobID) + ".tsv.gz"
}

// ulidWindowChars: the first 7 characters of a ULID are the top 33 bits of
// its 48-bit millisecond time, a window of 2^15 ms.
const ulidWindowChars = 7

func archivePage(jobID string) string {
	if isULID(jobID) {
		return "t-" + jobID[:ulidWindowChars]
	}
	sum := sha256.Sum256([]byte(jobID))
	return fmt.Sprintf("h-%02x", sum[0]>>2)
}

// isULID tells a ULID: 26 characters of Crockford's base32, the first at
// most 7 (the 128 bits begin with the time's top 3).
func isULID(id string) bool {
	if len(id) != 26 || id[0] > '7' {
		return false
	}
	for i := range len(id) {
		if !strings.ContainsRune("0123456789ABCDEFGHJKMNPQRSTVWXYZ", rune(id[i])) {
			return false
		}
	}
	return true
}
