// Package s3layout is the object key layout of the image bucket, as pure
// functions so every service and tool names objects the same way.
package s3layout

import (
	"fmt"
	"strconv"
	"strings"
)

// DefaultBucket holds every image.
const DefaultBucket = "cyberimage"

// Metadata keys put on every image object (S3 user metadata, so they come
// back as X-Amz-Meta-* headers and in `mc stat`).
const (
	MetaJobID  = "Job-Id"
	MetaModel  = "Model"
	MetaSeed   = "Seed"
	MetaSteps  = "Steps"
	MetaSize   = "Size"
	MetaPrompt = "Prompt"
	MetaIndex  = "Index"
)

// MaxPromptMetaBytes keeps the prompt within S3's 2 KiB limit on all user
// metadata together, leaving room for the other keys.
const MaxPromptMetaBytes = 1024

// JobPrefix is the folder of one job's images.
func JobPrefix(jobID string) string { return "images/" + jobID + "/" }

// ImageKey is the key of image index of a job: images/<job_id>/<index>.png.
func ImageKey(jobID string, index int) string { return ImageKeyAt(jobID, index, 0) }

// ImageKeyAt is the key upload try `try` of a delivery writes image index
// of a job under: ImageKey for the first try, images/<job_id>/<index>-<try>.png
// after that. A retry needs a key of its own because MinIO keeps the lock
// of an object whose write a dying node was committing for 1 to 2 minutes,
// and a write of that same key waits for it; a fresh key does not. The
// record lists the keys actually written, so readers never derive them.
func ImageKeyAt(jobID string, index, try int) string {
	name := strconv.Itoa(index)
	if try > 0 {
		name += "-" + strconv.Itoa(try)
	}
	return JobPrefix(jobID) + name + ".png"
}

// ThumbMaxSide is the longest side of a thumbnail. Images no larger get
// none: they are their own thumbnail.
const ThumbMaxSide = 256

// HasThumb tells whether images of this size get a thumbnail.
func HasThumb(width, height int) bool { return max(width, height) > ThumbMaxSide }

// ThumbKeyOf is the thumbnail of the image stored under imageKey, next to
// it with the same name (images/<job_id>/<index>[-<try>].thumb.png): an
// image and its thumbnail are written by the same try.
func ThumbKeyOf(imageKey string) string {
	return strings.TrimSuffix(imageKey, ".png") + ".thumb.png"
}

// ThumbSize is the size of the thumbnail of a width×height image: the
// longest side ThumbMaxSide, the aspect kept.
func ThumbSize(width, height int) (int, int) {
	if !HasThumb(width, height) {
		return width, height
	}
	if width >= height {
		return ThumbMaxSide, max(1, height*ThumbMaxSide/width)
	}
	return max(1, width*ThumbMaxSide/height), ThumbMaxSide
}

// RecordKey is a job's final record on its own, next to its images
// (images/<job_id>/job.json): what the archive wrote per job before
// segments (archive.go), and still writes when asked to. The supervisor
// serves it once the record has left KV, if no segment holds the job.
func RecordKey(jobID string) string { return JobPrefix(jobID) + "job.json" }

// ParseImageKey returns the job id and index of an image key, of either
// shape ImageKeyAt writes.
func ParseImageKey(key string) (jobID string, index int, err error) {
	jobID, index, _, err = ParseImageKeyAt(key)
	return jobID, index, err
}

// ParseImageKeyAt returns the job id, index and upload try of an image key
// (try 0 for images/<job_id>/<index>.png).
func ParseImageKeyAt(key string) (jobID string, index, try int, err error) {
	rest, ok := strings.CutPrefix(key, "images/")
	if !ok {
		return "", 0, 0, fmt.Errorf("key %q: not under images/", key)
	}
	jobID, file, ok := strings.Cut(rest, "/")
	name, isPNG := strings.CutSuffix(file, ".png")
	if !ok || !isPNG || jobID == "" {
		return "", 0, 0, fmt.Errorf("key %q: want images/<job_id>/<index>[-<try>].png", key)
	}
	name, tryText, retried := strings.Cut(name, "-")
	index, err = strconv.Atoi(name)
	if err != nil || index < 0 {
		return "", 0, 0, fmt.Errorf("key %q: bad index", key)
	}
	if retried {
		// Only the form ImageKeyAt writes: a positive try, no sign or
		// leading zero, so each image has one key per try.
		if try, err = strconv.Atoi(tryText); err != nil || try < 1 || strconv.Itoa(try) != tryText {
			return "", 0, 0, fmt.Errorf("key %q: bad upload try", key)
		}
	}
	return jobID, index, try, nil
}

// TruncateForMetadata cuts s to at most n bytes on a rune boundary and keeps
// only printable ASCII, because S3 metadata travels in HTTP headers.
func TruncateForMetadata(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			r = '?'
		}
		if b.Len()+1 > n {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}
