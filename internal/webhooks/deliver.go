package webhooks

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/connops/connops/internal/connections"
)

// startDeliveries claims up to free subscriptions and starts a worker on
// each; a subscription whose endpoint is at its bound is handed back.
func (e *Engine) startDeliveries(ctx context.Context, wg *sync.WaitGroup, tenants, busy []string, free int) (claimed, started int) {
	ds, err := e.store.ClaimSubscriptions(ctx, e.worker, e.opts.Lease, tenants, busy, free)
	if err != nil {
		if ctx.Err() == nil {
			e.opts.Log.WarnContext(ctx, "webhooks: claiming subscriptions", slog.String("error", err.Error()))
		}
		return 0, 0
	}
	for _, d := range ds {
		endpoint := connections.Endpoint(d.NotificationURL)
		if !e.take(endpoint) {
			e.bookkeep(ctx, "release", d.ID, func(ctx context.Context) error { return e.store.ReleaseSubscription(ctx, d.ID, e.worker) })
			e.restore(nil, true) // claim it again once the endpoint frees up
			continue
		}
		started++
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer e.done(d.TenantID, endpoint)
			e.deliver(ctx, d)
		}()
	}
	return len(ds), started
}

// deliver sends a claimed subscription's pending changes, a batch at a
// time, holding the claim between batches, up to maxRounds. Once a POST has
// started it is seen through even when ctx ends (shutdown), so its outcome
// is recorded rather than left to a lease.
func (e *Engine) deliver(ctx context.Context, d connections.Delivery) {
	work := context.WithoutCancel(ctx)
	for round := 1; ; round++ {
		var p connections.Pending
		err := e.bookkeep(ctx, "read pending changes", d.ID, func(ctx context.Context) error {
			var err error
			p, err = e.store.PendingChanges(ctx, d, batchSize)
			return err
		})
		if err != nil {
			e.bookkeep(ctx, "release", d.ID, func(ctx context.Context) error { return e.store.ReleaseSubscription(ctx, d.ID, e.worker) })
			return
		}
		if len(p.Changes) > 0 && !e.send(work, d, p) {
			return
		}
		if p.ConnectionDeleted {
			e.remove(ctx, d)
			return
		}
		keep := p.More && round < maxRounds && ctx.Err() == nil
		if p.Through == d.Through && !keep {
			e.bookkeep(ctx, "release", d.ID, func(ctx context.Context) error { return e.store.ReleaseSubscription(ctx, d.ID, e.worker) })
			return
		}
		var held bool
		err = e.bookkeep(ctx, "advance", d.ID, func(ctx context.Context) error {
			var err error
			held, err = e.store.AdvanceSubscription(ctx, d.ID, e.worker, p.Through, keep, e.opts.Lease)
			return err
		})
		if err != nil || !held || !keep {
			return
		}
		d.Through, d.Attempts = p.Through, 0
	}
}

// send POSTs one batch; on failure it records the retry (or the drop, for
// changes past the retry window) and reports false.
func (e *Engine) send(ctx context.Context, d connections.Delivery, p connections.Pending) bool {
	token, err := e.signer.Token(d.TenantID, d.AppID, time.Now())
	if err != nil {
		e.opts.Log.ErrorContext(ctx, "webhooks: signing a validation token", slog.String("error", err.Error()))
		return false
	}
	status, err := e.client.post(ctx, d.NotificationURL, changesBody(d.Subscription, p.Changes, token))
	if err == nil && status >= 200 && status < 300 {
		e.opts.Metrics.WebhookDelivery("delivered", len(p.Changes))
		now := time.Now()
		for _, ch := range p.Changes {
			e.opts.Metrics.WebhookLag(now.Sub(ch.At))
		}
		return true
	}
	why := fmt.Sprintf("answered %d", status)
	if err != nil {
		why = err.Error()
	}
	failures := d.Attempts + 1
	delay := backoff(failures, e.opts.MaxDelay)
	if time.Since(p.Changes[0].At) > e.opts.RetryWindow {
		e.opts.Metrics.WebhookDelivery("dropped", len(p.Changes))
		e.opts.Log.WarnContext(ctx, "webhooks: dropping notifications past the retry window", slog.String("subscription", d.ID),
			slog.String("reason", why), slog.Duration("retry_window", e.opts.RetryWindow))
		e.bookkeep(ctx, "drop", d.ID, func(ctx context.Context) error {
			return e.store.DropMissed(ctx, d.ID, e.worker, e.opts.RetryWindow, delay)
		})
		e.kickEvents()
		return false
	}
	e.opts.Metrics.WebhookDelivery("failed", len(p.Changes))
	if d.Attempts == 0 {
		// The first failure of a run is worth a line; the retries are not.
		e.opts.Log.WarnContext(ctx, "webhooks: delivery failed; retrying with back-off", slog.String("subscription", d.ID),
			slog.String("reason", why))
	}
	e.bookkeep(ctx, "retry", d.ID, func(ctx context.Context) error { return e.store.RetrySubscription(ctx, d.ID, e.worker, delay) })
	return false
}

// remove ends a subscription whose connection was deleted.
func (e *Engine) remove(ctx context.Context, d connections.Delivery) {
	e.bookkeep(ctx, "remove", d.ID, func(ctx context.Context) error { return e.store.RemoveSubscription(ctx, d.ID, e.worker) })
	e.opts.Log.InfoContext(ctx, "webhooks: subscription removed with its connection", slog.String("subscription", d.ID))
	e.kickEvents()
}

// bookkeep runs one statement about a claim, bounded and detached from
// shutdown, and logs its failure: the claim then lapses with its lease and
// another worker resends what this one could not record.
func (e *Engine) bookkeep(ctx context.Context, what, id string, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeeping)
	defer cancel()
	err := f(ctx)
	if err != nil {
		e.opts.Log.WarnContext(ctx, "webhooks: "+what, slog.String("subscription", id), slog.String("error", err.Error()))
	}
	return err
}
