package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/minio/minio-go/v7"
	"go.uber.org/zap"

	"cyberimage/services/supervisor/internal/archive"
	"cyberimage/services/supervisor/internal/webhook"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/objectstore"
	"cyberimage/shared/s3layout"
)

type imageLink struct {
	Key string `json:"key"`
	URL string `json:"url"`
	// ThumbURL opens the image's thumbnail (at most 256 px a side): the
	// image itself when it is no larger.
	ThumbURL string `json:"thumb_url"`
}

type jobReply struct {
	job.Record
	ImageURLs []imageLink `json:"image_urls"`
	Progress  any         `json:"progress,omitempty"`
	// Archived: the record has left KV (its retention ran out) and comes
	// from its copy in S3.
	Archived bool `json:"archived,omitempty"`
	// Callback is the webhook's delivery, for a job with a callback_url.
	Callback *webhook.Status `json:"callback,omitempty"`
}

func (s *Server) job(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	rec, archived, err := s.findJob(ctx, id)
	if errors.Is(err, jobstore.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no job "+id)
		return
	}
	if err != nil {
		s.log.Warn("job lookup", zap.String("job_id", id), zap.Error(err))
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	reply := jobReply{Record: rec.Public(), ImageURLs: []imageLink{}, Archived: archived}
	reply.ImageURLs = append(reply.ImageURLs, s.imageLinks(ctx, rec)...)
	if p, ok := s.p.Tracker.Progress(id); ok && rec.Status == job.StatusProcessing {
		reply.Progress = &p.ProgressEvent
	}
	reply.Callback = s.callback(ctx, rec, archived)
	writeJSON(w, http.StatusOK, reply)
}

// callback is the job's webhook delivery; a failure to read it costs the
// view only that part (the URL alone is shown), as does an archived
// record's: its delivery left KV with it.
func (s *Server) callback(ctx context.Context, rec job.Record, archived bool) *webhook.Status {
	if s.p.Callback == nil || rec.Spec.CallbackURL == "" {
		return nil
	}
	if archived {
		return &webhook.Status{URL: rec.Spec.CallbackURL}
	}
	st, err := s.p.Callback(ctx, rec)
	if err != nil {
		s.log.Warn("webhook lookup", zap.String("job_id", rec.JobID), zap.Error(err))
		return &webhook.Status{URL: rec.Spec.CallbackURL}
	}
	return st
}

// imageLinks presigns the job's own images: only keys under its own prefix,
// since a record is data anyone with KV access could write, and a presigned
// URL opens any key. Every link is signed for the one node chosen for the
// first (objectstore.Signer), not looked up again per image and thumbnail.
func (s *Server) imageLinks(ctx context.Context, rec job.Record) []imageLink {
	var links []imageLink
	var signer *minio.Client
	for _, key := range rec.Images {
		if owner, _, err := s3layout.ParseImageKey(key); err != nil || owner != rec.JobID {
			s.log.Warn("record names an image outside its own prefix; not signing it", zap.String("job_id", rec.JobID), zap.String("key", key))
			continue
		}
		if signer == nil {
			var err error
			if signer, err = objectstore.Signer(ctx, s.p.S3); err != nil {
				s.log.Warn("presign", zap.String("job_id", rec.JobID), zap.Error(err))
				return links
			}
		}
		u, err := signer.PresignedGetObject(ctx, s.p.Bucket, key, s.p.PresignTTL, url.Values{})
		if err != nil {
			s.log.Warn("presign", zap.String("job_id", rec.JobID), zap.String("key", key), zap.Error(err))
			continue
		}
		link := imageLink{Key: key, URL: u.String(), ThumbURL: u.String()}
		if s3layout.HasThumb(rec.Spec.Width, rec.Spec.Height) {
			if t, err := signer.PresignedGetObject(ctx, s.p.Bucket, s3layout.ThumbKeyOf(key), s.p.PresignTTL, url.Values{}); err == nil {
				link.ThumbURL = t.String()
			}
		}
		links = append(links, link)
	}
	return links
}

// findJob reads a job's record from KV, or once it has left KV, from its
// archive in S3 (archived true); jobstore.ErrNotFound when neither has it.
func (s *Server) findJob(ctx context.Context, id string) (rec job.Record, archived bool, err error) {
	rec, _, err = s.p.Store.Get(ctx, id)
	if !errors.Is(err, jobstore.ErrNotFound) {
		return rec, false, err
	}
	rec, archived, err = archive.Lookup(ctx, s.p.S3, s.p.Bucket, id)
	if err == nil && !archived {
		err = jobstore.ErrNotFound
	}
	return rec, archived, err
}
