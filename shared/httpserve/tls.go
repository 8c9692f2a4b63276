package httpserve

import (
	"crypto/tls"
	"fmt"
	"net"

	"cyberimage/shared/config"
)

// TLS is an HTTP listener's certificate and key (PEM files); both empty:
// plain HTTP. One setting pair serves each service's one listener, so the
// names are the same in every service.
type TLS struct {
	Cert, Key string
}

// Bind binds CYBERIMAGE_HTTP_TLS_CERT and CYBERIMAGE_HTTP_TLS_KEY.
func (t *TLS) Bind(l *config.Loader) {
	l.String(&t.Cert, "http-tls-cert", "", "certificate (PEM, with its chain) of this service's HTTP listener; enables HTTPS")
	l.String(&t.Key, "http-tls-key", "", "key (PEM) of the HTTP listener's certificate")
}

// Check reports a certificate without its key (or the reverse) and a pair
// that does not load, so a bad setting stops the service at start with
// exit 2 instead of at its first connection.
func (t *TLS) Check(l *config.Loader) {
	if (t.Cert == "") != (t.Key == "") {
		l.Check(false, "CYBERIMAGE_HTTP_TLS_CERT and CYBERIMAGE_HTTP_TLS_KEY go together")
		return
	}
	if t.Enabled() {
		_, err := t.load()
		l.Check(err == nil, "%v", err)
	}
}

// Enabled tells whether the listener speaks HTTPS.
func (t TLS) Enabled() bool { return t.Cert != "" }

func (t TLS) load() (tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("CYBERIMAGE_HTTP_TLS_CERT/_KEY: %w", err)
	}
	return cert, nil
}

// Listen listens on addr: plain TCP, or TLS with the certificate (HTTP/2
// offered, as http.Server.ServeTLS would).
func (t TLS) Listen(addr string) (net.Listener, error) {
	var cfg *tls.Config
	if t.Enabled() {
		cert, err := t.load()
		if err != nil {
			return nil, err
		}
		cfg = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	return ln, nil
}
