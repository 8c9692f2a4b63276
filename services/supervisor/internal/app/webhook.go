package app

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"cyberimage/services/supervisor/internal/webhook"
)

// hooks are the webhooks' parts: the book every replica shows deliveries
// from, and their metrics.
type hooks struct {
	book    *webhook.Book
	metrics *webhook.Metrics
}

// collectors are the webhooks' series for /metrics.
func (h hooks) collectors() []prometheus.Collector { return []prometheus.Collector{h.metrics} }

// webhooks opens the deliveries' book and, when the operator allows any
// callback host, makes the leader's caller of webhooks.
func (a *App) webhooks(ctx context.Context) error {
	cfg := a.cfg.Webhook
	book, err := webhook.OpenBook(ctx, a.bus.JS, a.cfg.Retention)
	if err != nil {
		return err
	}
	a.hooks = hooks{book: book, metrics: webhook.NewMetrics()}
	if !cfg.Hosts.Enabled() {
		return nil
	}
	sender := &webhook.Sender{Client: webhook.NewClient(), Secret: []byte(cfg.Secret), Timeout: webhookTimeout}
	a.leader = append(a.leader, webhook.New(webhook.Params{Ended: a.idx, Records: a.bus.Store.KV(), State: a.buckets.state,
		Book: book, Poster: sender, Hosts: cfg.Hosts, RetryFor: cfg.RetryFor, Workers: cfg.Workers, PerHost: cfg.PerHost,
		MaxPending: cfg.MaxPending, Metrics: a.hooks.metrics, Logger: a.log}))
	return nil
}

// webhookTimeout bounds each call: a receiver should answer at once and
// do its work afterwards.
const webhookTimeout = 10 * time.Second
