package bus

import (
	"net/url"
	"strings"
	"time"

	"cyberimage/shared/config"
	"cyberimage/shared/defaults"
)

// Conn locates the NATS server and says how to authenticate to it.
type Conn struct {
	// URL is one server or a comma-separated list (a cluster). It may
	// carry user:password, so it is logged only through Redacted.
	URL string
	// CredsFile is a NATS credentials file (user JWT and nkey seed, the
	// format `nats --creds` reads).
	CredsFile string
	// TLSCA verifies the server; TLSCert and TLSKey are this client's
	// certificate for servers that require one.
	TLSCA, TLSCert, TLSKey string
	// PingInterval is how often the client pings its server; a server
	// that answers none for two intervals is left for another node.
	PingInterval time.Duration

	dev *bool // CYBERIMAGE_DEV, as bound
}

// DefaultURL is where `make run` starts NATS.
const DefaultURL = "nats://127.0.0.1:4222"

// Bind registers the connection settings with a config loader.
func (c *Conn) Bind(l *config.Loader) {
	l.Secret(&c.URL, "nats-url", "NATS server URL, or a comma-separated list for a cluster (default "+DefaultURL+")")
	l.String(&c.CredsFile, "nats-creds", "", "NATS credentials file (JWT and nkey seed) to connect with")
	l.String(&c.TLSCA, "nats-tls-ca", "", "CA certificate (PEM) that signed the NATS server's certificate; enables TLS")
	l.String(&c.TLSCert, "nats-tls-cert", "", "client certificate (PEM) for NATS servers that verify clients")
	l.String(&c.TLSKey, "nats-tls-key", "", "key (PEM) of the client certificate")
	l.Duration(&c.PingInterval, "nats-ping-interval", DefaultPingInterval, "ping the NATS server this often; one silent for two intervals is left for another node")
	c.dev = l.Dev()
}

// Check fills in the default URL and checks the TLS settings come in pairs.
func (c *Conn) Check(l *config.Loader) {
	if c.URL == "" {
		c.URL = DefaultURL
	}
	if c.dev == nil || !*c.dev {
		// Outside the dev stack every service connects as its role.
		l.Check(c.CredsFile != "", "%s is required (a NATS credentials file of this service's role; or CYBERIMAGE_DEV=true for a server without auth)", l.Name("nats-creds"))
	}
	l.Check((c.TLSCert == "") == (c.TLSKey == ""), "CYBERIMAGE_NATS_TLS_CERT and CYBERIMAGE_NATS_TLS_KEY go together")
	l.Check(c.PingInterval >= 100*time.Millisecond, "%s must be at least 100ms", l.Name("nats-ping-interval"))
}

// DefaultPingInterval leaves a hung server within 6 s. make bench-recovery
// measured 5 s against 3 s: a frozen NATS node paused completions up to
// 15.4 s with 5 s pings and 10.8 s with 3 s (the 15 s target).
const DefaultPingInterval = 3 * time.Second

func (c Conn) pingInterval() time.Duration {
	return defaults.Positive(c.PingInterval, DefaultPingInterval)
}

// Redacted is the URL with any password replaced, for logs.
func (c Conn) Redacted() string {
	parts := strings.Split(c.URL, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		switch {
		case err != nil:
			parts[i] = "(unparsable URL)"
		case u.User == nil:
		default:
			// user:password, or a bare token as the user name.
			if _, has := u.User.Password(); has {
				u.User = url.UserPassword(u.User.Username(), "REDACTED")
			} else {
				u.User = url.User("REDACTED")
			}
			parts[i] = u.String()
		}
	}
	return strings.Join(parts, ",")
}

// Bind registers the pipeline settings with a config loader.
func (s *Settings) Bind(l *config.Loader) {
	d := DefaultSettings()
	l.Duration(&s.AckWait, "ack-wait", d.AckWait, "redeliver a job after this long without an ack or in-progress ack")
	l.Int(&s.MaxDeliver, "max-deliver", d.MaxDeliver, "deliveries per job before it fails (first try plus retries)")
	l.Int(&s.MaxAckPending, "max-ack-pending", d.MaxAckPending, "jobs in flight on one runners' consumer (a model's class): above the fleet's slots")
	l.Int(&s.MaxWaitingPulls, "max-waiting-pulls", d.MaxWaitingPulls, "pulls waiting on one runners' consumer (provisioning only): above the fleet's slots")
	l.Int(&s.Replicas, "replicas", d.Replicas, "replicas of streams and buckets")
}

// Check validates the settings after parsing.
func (s *Settings) Check(l *config.Loader) {
	l.Check(s.AckWait >= time.Second, "CYBERIMAGE_ACK_WAIT must be at least 1s")
	l.Check(s.MaxDeliver >= 1, "CYBERIMAGE_MAX_DELIVER must be at least 1")
	l.Check(s.MaxAckPending >= 1, "CYBERIMAGE_MAX_ACK_PENDING must be at least 1")
	l.Check(s.MaxWaitingPulls >= 1, "CYBERIMAGE_MAX_WAITING_PULLS must be at least 1")
	l.Check(s.Replicas >= 1 && s.Replicas <= 5, "CYBERIMAGE_REPLICAS must be 1 to 5")
}
