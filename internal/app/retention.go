package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/ballotflow/ballotflow/internal/notices"
	"github.com/ballotflow/ballotflow/internal/store"
)

// WebhookRetention is the API's maintenance service that forgets inbound texts' MessageSids
// older than store.InboundMessageRetention, and when numbers got the opt-out footer longer
// ago than notices.SMSFooterPeriod, once at start and then every Interval. Every API
// replica may run it: the delete is idempotent.
type WebhookRetention struct {
	Store     *store.Store
	Retention time.Duration // default store.InboundMessageRetention
	Interval  time.Duration // default 1 hour
	Logger    *slog.Logger
	Now       func() time.Time // default time.Now; tests move it

	cancel context.CancelFunc
	done   chan struct{}
}

// StartWebhookRetention starts a WebhookRetention with its defaults; Stop ends it.
func StartWebhookRetention(ctx context.Context, st *store.Store, logger *slog.Logger) *WebhookRetention {
	r := &WebhookRetention{Store: st, Logger: logger.With("component", "webhook-retention")}
	r.Start(ctx)
	return r
}

// Start runs the service until ctx is done or Stop is called.
func (r *WebhookRetention) Start(ctx context.Context) {
	r.setDefaults()
	ctx, r.cancel = context.WithCancel(ctx)
	r.done = make(chan struct{})
	go func() {
		defer close(r.done)
		tick := time.NewTicker(r.Interval)
		defer tick.Stop()
		for {
			r.RunOnce(ctx)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
}

// RunOnce prunes once. A failure is logged and retried at the next interval: a row kept an
// hour longer costs nothing.
func (r *WebhookRetention) RunOnce(ctx context.Context) {
	r.setDefaults()
	n, err := r.Store.InboundMessagePrune(ctx, r.Now().Add(-r.Retention))
	switch {
	case err != nil && ctx.Err() == nil:
		r.Logger.Warn("could not prune inbound messages; retrying later", "error", err)
	case n > 0:
		r.Logger.Info("pruned inbound messages", "count", n)
	}
	// A number whose opt-out footer is older than the period gets it with its next text
	// whether or not its row is kept.
	n, err = r.Store.SMSFooterForget(ctx, r.Now().Add(-notices.SMSFooterPeriod))
	switch {
	case err != nil && ctx.Err() == nil:
		r.Logger.Warn("could not prune sms footers; retrying later", "error", err)
	case n > 0:
		r.Logger.Info("pruned sms footers", "count", n)
	}
}

// Stop ends the service and waits for it; safe on a nil or never-started service.
func (r *WebhookRetention) Stop() {
	if r == nil || r.cancel == nil {
		return
	}
	r.cancel()
	<-r.done
}

func (r *WebhookRetention) setDefaults() {
	if r.Retention <= 0 {
		r.Retention = store.InboundMessageRetention
	}
	if r.Interval <= 0 {
		r.Interval = time.Hour
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
}
