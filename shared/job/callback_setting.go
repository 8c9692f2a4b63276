package job

import "cyberimage/shared/config"

// CallbackSetting is CYBERIMAGE_WEBHOOK_ALLOWED_HOSTS. Ingest refuses a
// request whose callback_url names another host, and the supervisor checks
// the URL again before every call; both bind this one definition, so the
// operator's one value reads the same in each.
type CallbackSetting struct {
	// Hosts is the allow list, parsed by Check.
	Hosts CallbackHosts
	list  string
}

// Bind binds CYBERIMAGE_WEBHOOK_ALLOWED_HOSTS.
func (s *CallbackSetting) Bind(l *config.Loader) {
	l.String(&s.list, "webhook-allowed-hosts", "", "hosts a callback_url may name, checked by ingest and again before every call: comma-separated host, host:port or *.domain, http://host[:port] to allow plain HTTP (empty: callbacks refused, no webhooks)")
}

// Check parses the setting into Hosts; a bad one is reported to l.
func (s *CallbackSetting) Check(l *config.Loader) {
	var err error
	s.Hosts, err = ParseCallbackHosts(s.list)
	l.Check(err == nil, "CYBERIMAGE_WEBHOOK_ALLOWED_HOSTS: %v", err)
}
