// Package webhooks delivers Graph-shaped change notifications. The change
// log is the outbox: each subscription row holds its position in its
// tenant's log, and a delivery worker that has POSTed a batch and got a 2xx
// moves the position in the statement that keeps or releases its claim.
// Every replica runs one Engine; workers claim due subscriptions with FOR
// UPDATE SKIP LOCKED and a lease, so replicas share the work and a killed
// replica's claims are taken over once their lease lapses. Delivery is at
// least once: a batch whose answer was lost is sent again, with the same
// notification ids.
//
// One endpoint can hold at most PerEndpoint of a replica's workers, each
// for at most the 3 s timeout, so a slow or dead endpoint never holds up
// the others' subscriptions.
package webhooks

import (
	"context"
	"log/slog"
	mathrand "math/rand/v2"
	"sync"
	"time"

	"github.com/connops/connops/internal/connections"
	"github.com/connops/connops/internal/engine"
)

// Store is the persistence the engine needs: the outbox positions and
// claims, and the lifecycle events.
type Store interface {
	ClaimSubscriptions(ctx context.Context, worker string, lease time.Duration, tenants, busy []string, limit int) ([]connections.Delivery, error)
	PendingChanges(ctx context.Context, d connections.Delivery, limit int) (connections.Pending, error)
	// AdvanceSubscription records delivery through through, keeping the
	// claim when keep is set; held is false when the claim was lost.
	AdvanceSubscription(ctx context.Context, id, worker string, through int64, keep bool, lease time.Duration) (held bool, err error)
	RetrySubscription(ctx context.Context, id, worker string, delay time.Duration) error
	ReleaseSubscription(ctx context.Context, id, worker string) error
	// DropMissed gives up on the pending changes older than window, queues
	// a missed event and backs off for the rest.
	DropMissed(ctx context.Context, id, worker string, window, delay time.Duration) error
	// RemoveSubscription deletes the subscription (its connection is gone)
	// and queues subscriptionRemoved.
	RemoveSubscription(ctx context.Context, id, worker string) error
	lifecycleStore
}

// Metrics is what the engine reports.
type Metrics interface {
	// WebhookDelivery counts one POST of n notifications by outcome:
	// delivered, failed or dropped.
	WebhookDelivery(outcome string, notifications int)
	// WebhookLag observes a delivered change's time from commit.
	WebhookLag(time.Duration)
	WebhookLifecycle(event, outcome string)
	WebhookInFlight(int)
	WebhookQueue(subscriptions, retrying, events int64)
}

// Options tune an Engine; zero values take the defaults.
type Options struct {
	// Workers bounds the POSTs in flight on this replica.
	Workers int
	// PerEndpoint bounds the POSTs in flight to one endpoint (default half
	// the workers).
	PerEndpoint int
	// Lease is how long a claim holds before another worker may take it.
	Lease time.Duration
	// RetryWindow is how long after its commit a change is retried; then
	// it is dropped and a missed lifecycle event sent.
	RetryWindow time.Duration
	// MaxDelay caps the back-off between attempts.
	MaxDelay time.Duration
	// Poll is the safety net's period: every tenant's due subscriptions
	// and lifecycle events are claimed, and the sweeps run.
	Poll    time.Duration
	Metrics Metrics
	Log     *slog.Logger
}

// Defaults.
const (
	DefaultWorkers     = 8
	DefaultLease       = 30 * time.Second
	DefaultRetryWindow = 4 * time.Hour
	DefaultMaxDelay    = 5 * time.Minute
	DefaultPoll        = time.Second
	// batchSize is the most notifications one POST carries.
	batchSize = 50
	// maxRounds bounds the batches a worker sends on one claim before it
	// lets others have a turn.
	maxRounds = 20
	// bookkeeping bounds each statement a worker runs after a POST, which
	// must not hang on a lost database.
	bookkeeping = 10 * time.Second
	queueEvery  = 5 * time.Second
)

// Engine is one replica's webhook delivery.
type Engine struct {
	store  Store
	client *Client
	signer *Signer
	opts   Options
	worker string
	wake   chan struct{}

	mu        sync.Mutex
	dirty     map[string]struct{} // tenants with new changes
	all       bool                // claim every tenant's
	events    bool                // lifecycle events may be due
	endpoints map[string]int      // POSTs in flight per endpoint
	inFlight  int
}

// New returns an engine; Run starts it.
func New(store Store, client *Client, signer *Signer, opts Options) *Engine {
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.PerEndpoint <= 0 {
		opts.PerEndpoint = max(1, opts.Workers/2)
	}
	if opts.Lease <= 0 {
		opts.Lease = DefaultLease
	}
	if opts.RetryWindow <= 0 {
		opts.RetryWindow = DefaultRetryWindow
	}
	if opts.Poll <= 0 {
		opts.Poll = DefaultPoll
	}
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = DefaultMaxDelay
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Metrics == nil {
		opts.Metrics = noMetrics{}
	}
	return &Engine{store: store, client: client, signer: signer, opts: opts,
		worker: "webhooks:" + engine.WorkerName(), wake: make(chan struct{}, 1),
		dirty: map[string]struct{}{}, endpoints: map[string]int{}, all: true, events: true}
}

// Worker is the name the engine's claims carry.
func (e *Engine) Worker() string { return e.worker }

// Changed is told of a tenant with new changes, on any replica (the change
// hub's OnTenant): its subscriptions are claimed at once. It never blocks.
func (e *Engine) Changed(tenantID string) {
	e.mu.Lock()
	e.dirty[tenantID] = struct{}{}
	e.mu.Unlock()
	e.kick()
}

func (e *Engine) kick() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// kickEvents makes the dispatcher claim lifecycle events now.
func (e *Engine) kickEvents() {
	e.mu.Lock()
	e.events = true
	e.mu.Unlock()
	e.kick()
}

// Run delivers until ctx ends, then waits for the POSTs in flight (each
// bounded by its timeout) so no claim is left half-recorded.
func (e *Engine) Run(ctx context.Context) {
	e.opts.Log.InfoContext(ctx, "webhook delivery started", slog.String("worker", e.worker),
		slog.Int("workers", e.opts.Workers), slog.Duration("retry_window", e.opts.RetryWindow))
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() { defer wg.Done(); e.sweep(ctx) }()
	ticker := time.NewTicker(e.opts.Poll)
	defer ticker.Stop()
	for {
		e.dispatch(ctx, &wg)
		select {
		case <-ctx.Done():
			return
		case <-e.wake:
		case <-ticker.C:
			e.mu.Lock()
			e.all, e.events = true, true
			e.mu.Unlock()
		}
	}
}

// dispatch claims what is due for the free workers and starts them, until
// nothing more is due or no worker is free (a worker that finishes wakes
// it again).
func (e *Engine) dispatch(ctx context.Context, wg *sync.WaitGroup) {
	for ctx.Err() == nil {
		e.mu.Lock()
		free := e.opts.Workers - e.inFlight
		var tenants []string
		all, events := e.all, e.events
		if free > 0 {
			for t := range e.dirty {
				tenants = append(tenants, t)
			}
			clear(e.dirty)
			e.all, e.events = false, false
		}
		busy := e.busyLocked()
		e.mu.Unlock()
		if free <= 0 || (!all && len(tenants) == 0 && !events) {
			return
		}
		again := false
		if all || len(tenants) > 0 {
			scope := tenants
			if all {
				scope = nil
			}
			claimed, started := e.startDeliveries(ctx, wg, scope, busy, free)
			if claimed == free {
				e.restore(tenants, all) // more may be due
				again = true
			}
			free -= started
		}
		if events && free > 0 {
			if e.startEvents(ctx, wg, busy, free) == free {
				e.kickEventsLater()
				again = true
			}
		} else if events {
			e.kickEventsLater()
		}
		if !again {
			return
		}
	}
}

// restore marks tenants (or every tenant) dirty again.
func (e *Engine) restore(tenants []string, all bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, t := range tenants {
		e.dirty[t] = struct{}{}
	}
	e.all = e.all || all
}

func (e *Engine) kickEventsLater() {
	e.mu.Lock()
	e.events = true
	e.mu.Unlock()
}

// busyLocked lists the endpoints at their bound. e.mu is held.
func (e *Engine) busyLocked() []string {
	var busy []string
	for ep, n := range e.endpoints {
		if n >= e.opts.PerEndpoint {
			busy = append(busy, ep)
		}
	}
	return busy
}

// take reserves a worker for endpoint, unless the endpoint is at its
// bound (a claim can return several subscriptions of one endpoint).
func (e *Engine) take(endpoint string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.endpoints[endpoint] >= e.opts.PerEndpoint || e.inFlight >= e.opts.Workers {
		return false
	}
	e.endpoints[endpoint]++
	e.inFlight++
	e.opts.Metrics.WebhookInFlight(e.inFlight)
	return true
}

// done frees the worker taken for endpoint and wakes the dispatcher: the
// tenant's subscription may have new changes that came while it was held,
// and subscriptions kept back by the endpoint's bound may now go.
func (e *Engine) done(tenantID, endpoint string) {
	e.mu.Lock()
	saturated := e.endpoints[endpoint] >= e.opts.PerEndpoint
	if e.endpoints[endpoint]--; e.endpoints[endpoint] <= 0 {
		delete(e.endpoints, endpoint)
	}
	e.inFlight--
	e.opts.Metrics.WebhookInFlight(e.inFlight)
	if tenantID != "" {
		e.dirty[tenantID] = struct{}{}
	}
	if saturated {
		e.all, e.events = true, true
	}
	e.mu.Unlock()
	e.kick()
}

// backoff is the delay before the next attempt after failures in a row:
// 1 s doubling up to limit (5 minutes by default), with jitter so endpoints
// that fail together do not retry together.
func backoff(failures int, limit time.Duration) time.Duration {
	d := min(time.Second<<min(max(failures-1, 0), 20), limit)
	return d/2 + mathrand.N(d/2+1)
}

type noMetrics struct{}

func (noMetrics) WebhookDelivery(string, int)      {}
func (noMetrics) WebhookLag(time.Duration)         {}
func (noMetrics) WebhookLifecycle(string, string)  {}
func (noMetrics) WebhookInFlight(int)              {}
func (noMetrics) WebhookQueue(int64, int64, int64) {}
