package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/minio/minio-go/v7"

	"cyberimage/shared/objectstore"
	"cyberimage/shared/s3layout"
)

// pending is what segments hold that the index pages do not list yet, by
// page. The archiver applies it every IndexInterval (or once it holds
// MaxPending entries), so a page is written once for many segments, and
// saves its checkpoint only after: a crash before loses nothing, the next
// leader archives those records again from KV.
type pending struct {
	pages map[string][]location
	n     int
}

func (p *pending) add(entries []location) {
	if p.pages == nil {
		p.pages = map[string][]location{}
	}
	for _, e := range entries {
		key := s3layout.ArchiveIndexKey(e.JobID)
		p.pages[key] = append(p.pages[key], e)
	}
	p.n += len(entries)
}

func (p *pending) Len() int { return p.n }

// errPageChanged: someone else wrote the page between our read and write
// (a deposed leader still finishing); read it again.
var errPageChanged = errors.New("index page changed while being updated")

// applyPage merges entries into the page at key: read, merge, write back
// only if it is still the page read (S3's conditional PUT), so two writers
// never lose each other's entries.
func applyPage(ctx context.Context, s3 *minio.Client, bucket, key string, entries []location) error {
	p, etag, err := readPage(ctx, s3, bucket, key)
	if err != nil {
		return err
	}
	if !p.merge(entries) {
		return nil
	}
	return putPage(ctx, s3, bucket, key, p, etag)
}

// putPage writes a page over the one of ETag etag, or where none was
// (etag ""); errPageChanged if the page is another by now.
func putPage(ctx context.Context, s3 *minio.Client, bucket, key string, p page, etag string) error {
	body := encodePage(p)
	// Not Content-Encoding gzip: HTTP clients would unpack the body on
	// the way, and a ranged read of a segment means the stored bytes.
	opts := minio.PutObjectOptions{ContentType: "application/gzip"}
	if etag == "" {
		opts.SetMatchETagExcept("*")
	} else {
		opts.SetMatchETag(etag)
	}
	_, err := s3.PutObject(ctx, bucket, key, bytes.NewReader(body), int64(len(body)), opts)
	if code := objectstore.ErrorCode(err); code == "PreconditionFailed" || code == "ConditionalRequestConflict" {
		return fmt.Errorf("%s: %w", key, errPageChanged)
	}
	if err != nil {
		return fmt.Errorf("write index page %s: %w", key, err)
	}
	return nil
}

// readPage reads an index page and its ETag; a missing page is empty, with
// no ETag.
func readPage(ctx context.Context, s3 *minio.Client, bucket, key string) (page, string, error) {
	obj, err := s3.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, "", fmt.Errorf("read index page %s: %w", key, err)
	}
	defer obj.Close()
	p, err := decodePage(obj)
	if objectstore.ErrorCode(err) == "NoSuchKey" {
		return page{}, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("read index page %s: %w", key, err)
	}
	info, err := obj.Stat()
	if err != nil {
		return nil, "", fmt.Errorf("read index page %s: %w", key, err)
	}
	return p, info.ETag, nil
}

// keys lists the pages to write, in order.
func (p *pending) keys() []string { return slices.Sorted(maps.Keys(p.pages)) }
