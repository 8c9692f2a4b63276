package job

import "cyberimage/shared/config"

// BindCallbackHosts binds CYBERIMAGE_WEBHOOK_ALLOWED_HOSTS; Check on the
// result parses it. Ingest refuses a request whose callback_url names
// another host, and the supervisor checks the URL again before every call;
// both bind this one definition, so the operator's one value reads the
// same in each. usage is the caller's --help text: each service says what
// the list means to it.
func BindCallbackHosts(l *config.Loader, usage string) *config.Parsed[CallbackHosts] {
	return config.BindParsed(l, "webhook-allowed-hosts", usage, ParseCallbackHosts)
}
