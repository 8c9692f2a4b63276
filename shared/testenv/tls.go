package testenv

import (
	"crypto/tls"
	"testing"

	"cyberimage/shared/natsauth"
)

// TLSFiles is a throwaway CA and a server certificate it signed for
// 127.0.0.1, as PEM files, with the server's tls.Config.
type TLSFiles struct {
	CAFile       string
	ServerConfig *tls.Config
}

// NewTLS makes a CA and a loopback server certificate in a temp folder.
func NewTLS(t testing.TB) TLSFiles {
	t.Helper()
	caFile, cfg, err := natsauth.SelfSignedTLS(t.TempDir())
	if err != nil {
		t.Fatalf("tls: %v", err)
	}
	return TLSFiles{CAFile: caFile, ServerConfig: cfg}
}
