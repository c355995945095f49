package webhooks

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/connops/connops/internal/connections"
)

// lifecycleStore is the persistence of lifecycle notifications: the sweeps
// that queue them and the queue itself.
type lifecycleStore interface {
	// SweepSubscriptions queues the due reauthorizationRequired reminders
	// and removes expired subscriptions (queueing subscriptionRemoved).
	SweepSubscriptions(ctx context.Context) (reminded, removed int, err error)
	ClaimEvents(ctx context.Context, worker string, lease time.Duration, busy []string, limit int) ([]connections.LifecycleEvent, error)
	FinishEvent(ctx context.Context, id int64, worker string) error
	RetryEvent(ctx context.Context, id int64, worker string, delay time.Duration) error
	ReleaseEvent(ctx context.Context, id int64, worker string) error
	WebhookQueue(ctx context.Context) (subscriptions, retrying, events int64, err error)
}

// startEvents claims up to free lifecycle events and sends each on a
// worker of its own, under the same per-endpoint bound as deliveries.
func (e *Engine) startEvents(ctx context.Context, wg *sync.WaitGroup, busy []string, free int) (claimed int) {
	evs, err := e.store.ClaimEvents(ctx, e.worker, e.opts.Lease, busy, free)
	if err != nil {
		if ctx.Err() == nil {
			e.opts.Log.WarnContext(ctx, "webhooks: claiming lifecycle events", slog.String("error", err.Error()))
		}
		return 0
	}
	for _, ev := range evs {
		endpoint := connections.Endpoint(ev.URL)
		if !e.take(endpoint) {
			e.bookkeep(ctx, "release lifecycle event", ev.SubscriptionID,
				func(ctx context.Context) error { return e.store.ReleaseEvent(ctx, ev.ID, e.worker) })
			e.kickEventsLater()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer e.done("", endpoint)
			e.sendEvent(context.WithoutCancel(ctx), ev)
		}()
	}
	return len(evs)
}

// sendEvent POSTs one lifecycle notification, retried like deliveries and
// dropped past the retry window.
func (e *Engine) sendEvent(ctx context.Context, ev connections.LifecycleEvent) {
	token, err := e.signer.Token(ev.TenantID, ev.AppID, time.Now())
	if err != nil {
		e.opts.Log.ErrorContext(ctx, "webhooks: signing a validation token", slog.String("error", err.Error()))
		return
	}
	status, err := e.client.post(ctx, ev.URL, lifecycleBody(ev, token))
	finish := func(ctx context.Context) error { return e.store.FinishEvent(ctx, ev.ID, e.worker) }
	switch {
	case err == nil && status >= 200 && status < 300:
		e.opts.Metrics.WebhookLifecycle(ev.Event, "delivered")
		e.bookkeep(ctx, "finish lifecycle event", ev.SubscriptionID, finish)
	case time.Since(ev.CreatedAt) > e.opts.RetryWindow:
		e.opts.Metrics.WebhookLifecycle(ev.Event, "dropped")
		e.opts.Log.WarnContext(ctx, "webhooks: dropping a lifecycle notification past the retry window",
			slog.String("subscription", ev.SubscriptionID), slog.String("event", ev.Event))
		e.bookkeep(ctx, "drop lifecycle event", ev.SubscriptionID, finish)
	default:
		e.opts.Metrics.WebhookLifecycle(ev.Event, "failed")
		delay := backoff(ev.Attempts+1, e.opts.MaxDelay)
		e.bookkeep(ctx, "retry lifecycle event", ev.SubscriptionID,
			func(ctx context.Context) error { return e.store.RetryEvent(ctx, ev.ID, e.worker, delay) })
	}
}

// sweep queues reminders and removes expired subscriptions every poll, and
// sizes the queue for the metrics now and then. Every replica sweeps; the
// statements take disjoint rows, so each event is queued once.
func (e *Engine) sweep(ctx context.Context) {
	ticker := time.NewTicker(e.opts.Poll)
	defer ticker.Stop()
	var sized time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		reminded, removed, err := e.store.SweepSubscriptions(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			e.opts.Log.WarnContext(ctx, "webhooks: sweeping subscriptions", slog.String("error", err.Error()))
		case reminded+removed > 0:
			if removed > 0 {
				e.opts.Log.InfoContext(ctx, "webhooks: expired subscriptions removed", slog.Int("subscriptions", removed))
			}
			e.kickEvents()
		}
		if time.Since(sized) >= queueEvery {
			if subs, retrying, events, err := e.store.WebhookQueue(ctx); err == nil {
				e.opts.Metrics.WebhookQueue(subs, retrying, events)
			}
			sized = time.Now()
		}
	}
}
