package config

import (
	"time"

	"cyberimage/shared/config"
	"cyberimage/shared/job"
)

// minWebhookSecret is the shortest signing key taken: a short one can be
// guessed from the signatures receivers see.
const minWebhookSecret = 16

// bind registers the webhook settings; the allow list comes back
// unparsed, for check to parse.
func (w *Webhook) bind(l *config.Loader) *config.Parsed[job.CallbackHosts] {
	hosts := job.BindCallbackHosts(l, "hosts a job's callback_url may name, checked again before every call: comma-separated host, host:port or *.domain, http://host[:port] to allow plain HTTP (empty: no webhooks)")
	l.Secret(&w.Secret, "webhook-secret", "key of the HMAC-SHA256 signature on every webhook call (Cyberimage-Signature); required with CYBERIMAGE_WEBHOOK_ALLOWED_HOSTS")
	l.Duration(&w.RetryFor, "webhook-retry-for", time.Hour, "how long after a job ends its webhook is retried (with backoff) before it is given up")
	l.Int(&w.Workers, "webhook-workers", 16, "webhook calls in flight at once")
	l.Int(&w.PerHost, "webhook-per-host", 4, "webhook calls in flight to one host at once, so a slow receiver holds only these")
	l.Int(&w.MaxPending, "webhook-max-pending", 10000, "webhook deliveries waiting or retrying at most; beyond, the oldest is dropped and recorded as failed")
	return hosts
}

func (w *Webhook) check(l *config.Loader, hosts *config.Parsed[job.CallbackHosts]) {
	hosts.Check(l)
	w.Hosts = hosts.Value
	l.Check(!w.Hosts.Enabled() || len(w.Secret) >= minWebhookSecret,
		"CYBERIMAGE_WEBHOOK_SECRET of at least %d characters is required with CYBERIMAGE_WEBHOOK_ALLOWED_HOSTS", minWebhookSecret)
	l.Check(w.RetryFor > 0, "CYBERIMAGE_WEBHOOK_RETRY_FOR must be positive")
	l.Check(w.Workers >= 1 && w.PerHost >= 1 && w.PerHost <= w.Workers,
		"CYBERIMAGE_WEBHOOK_WORKERS must be at least 1, and CYBERIMAGE_WEBHOOK_PER_HOST between 1 and it")
	l.Check(w.MaxPending >= 1, "CYBERIMAGE_WEBHOOK_MAX_PENDING must be at least 1")
}
