package objectstore

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"sync"
	"time"
	"weak"

	"github.com/minio/minio-go/v7"
)

// A node found live serves presigned links for liveFor before it is
// checked again; a check waits at most liveCheckTimeout, since a frozen
// node never answers it.
const (
	liveFor          = 5 * time.Second
	liveCheckTimeout = time.Second
)

// deployment is what a client made by NewClient for several endpoints
// knows: its settings, its nodes, and a client signing for each node.
type deployment struct {
	cfg   Config
	nodes *nodes
	check *http.Client // straight to one node: no failover, no proxy

	mu      sync.Mutex
	signers map[string]*minio.Client
}

// deployments maps each such client to its deployment; the entry goes
// when the client is collected.
var deployments sync.Map // weak.Pointer[minio.Client] → *deployment

func remember(client *minio.Client, d *deployment) {
	key := weak.Make(client)
	deployments.Store(key, d)
	runtime.AddCleanup(client, func(key weak.Pointer[minio.Client]) { deployments.Delete(key) }, key)
}

// PresignedGet is a link that opens key for ttl, signed for a node of the
// deployment that answers now: whoever opens it connects to the host it
// names, and a link naming a node that is down fails however many others
// are up. Clients of one endpoint sign for it, as before.
func PresignedGet(ctx context.Context, client *minio.Client, bucket, key string, ttl time.Duration) (*url.URL, error) {
	signer, err := Signer(ctx, client)
	if err != nil {
		return nil, err
	}
	return signer.PresignedGetObject(ctx, bucket, key, ttl, url.Values{})
}

// Signer is the client to presign links with, as PresignedGet would: one
// signing for a node of client's deployment that answers now, or client
// itself for a single endpoint. Signing several links with one Signer
// picks (and health-checks) the node once for them all.
func Signer(ctx context.Context, client *minio.Client) (*minio.Client, error) {
	d, ok := deployments.Load(weak.Make(client))
	if !ok {
		return client, nil
	}
	return d.(*deployment).signer(ctx, client)
}

// signer is a client signing for a node that answers (client itself for
// the first listed), or client when none does: its links are as good as
// any then.
func (d *deployment) signer(ctx context.Context, client *minio.Client) (*minio.Client, error) {
	for _, i := range d.nodes.order() {
		// Only a check that passed renews the memory: renewing it on
		// every link served would keep a node remembered live forever
		// under steady traffic, never checked again.
		if !d.nodes.checkedLive(i, liveFor) {
			if !d.checkLive(ctx, d.nodes.addrs[i]) {
				d.nodes.failed(i)
				continue
			}
			d.nodes.foundLive(i)
		}
		addr := d.nodes.addrs[i]
		if addr == d.cfg.Host() {
			return client, nil
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.signers == nil {
			d.signers = map[string]*minio.Client{}
		}
		if d.signers[addr] == nil {
			// Signing needs no connection: no transport of its own.
			c, err := newClient(d.cfg, addr, nil)
			if err != nil {
				return nil, err
			}
			d.signers[addr] = c
		}
		return d.signers[addr], nil
	}
	return client, nil
}

// checkLive asks one node, and no other, whether it serves.
func (d *deployment) checkLive(ctx context.Context, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, liveCheckTimeout)
	defer cancel()
	scheme := "http"
	if d.cfg.Secure {
		scheme = "https"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s://%s/minio/health/live", scheme, addr), nil)
	if err != nil {
		return false
	}
	resp, err := d.check.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
