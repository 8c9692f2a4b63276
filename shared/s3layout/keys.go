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
func ImageKey(jobID string, index int) string {
	return JobPrefix(jobID) + strconv.Itoa(index) + ".png"
}

// ThumbMaxSide is the longest side of a thumbnail. Images no larger get
// none: they are their own thumbnail.
const ThumbMaxSide = 256

// HasThumb tells whether images of this size get a thumbnail.
func HasThumb(width, height int) bool { return max(width, height) > ThumbMaxSide }

// ThumbKey is the thumbnail of image index of a job, stored next to it
// (images/<job_id>/<index>.thumb.png) so a gallery stays light.
func ThumbKey(jobID string, index int) string {
	return JobPrefix(jobID) + strconv.Itoa(index) + ".thumb.png"
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

// ParseImageKey returns the job id and index of an image key.
func ParseImageKey(key string) (jobID string, index int, err error) {
	rest, ok := strings.CutPrefix(key, "images/")
	if !ok {
		return "", 0, fmt.Errorf("key %q: not under images/", key)
	}
	jobID, file, ok := strings.Cut(rest, "/")
	name, isPNG := strings.CutSuffix(file, ".png")
	if !ok || !isPNG || jobID == "" {
		return "", 0, fmt.Errorf("key %q: want images/<job_id>/<index>.png", key)
	}
	index, err = strconv.Atoi(name)
	if err != nil || index < 0 {
		return "", 0, fmt.Errorf("key %q: bad index", key)
	}
	return jobID, index, nil
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
