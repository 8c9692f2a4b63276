package job

import "cyberimage/shared/config"

// BindCallbackHosts binds CYBERIMAGE_WEBHOOK_ALLOWED_HOSTS; Check on the
// result parses it. Ingest refuses a request whose callback_url names
// another host, and the supervisor checks the URL again before every call;
// both bind this one definition, so the operator's one value reads the
// same in each.
func BindCallbackHosts(l *config.Loader) *config.Parsed[CallbackHosts] {
	return config.BindParsed(l, "webhook-allowed-hosts", "hosts a callback_url may name, checked by ingest and again before every call: comma-separated host, host:port or *.domain, http://host[:port] to allow plain HTTP (empty: callbacks refused, no webhooks)", ParseCallbackHosts)
}
