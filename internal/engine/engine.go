// Package engine finishes the operations connops starts. Every replica runs
// one: it claims due work from the database with a lease (FOR UPDATE SKIP
// LOCKED, so replicas never wait on each other) and completes each claimed
// operation in one transaction, with its consequences. A replica that dies
// holding claims loses nothing: once the lease lapses, another claims the
// work again, and an operation changes state exactly once because finishing
// takes the work item, which only its current holder may do.
package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"time"

	"github.com/connops/connops/internal/connections"
)

// Store is the persistence the engine needs.
type Store interface {
	ClaimWork(ctx context.Context, worker string, lease time.Duration, limit int) ([]connections.Work, error)
	// FinishWork completes the work's operation if worker still holds it;
	// finished is false when the claim was lost.
	FinishWork(ctx context.Context, w connections.Work, worker string) (finished bool, createdAt time.Time, err error)
	EngineLag(ctx context.Context) (time.Duration, error)
	OperationsByStatus(ctx context.Context) (map[string]int64, error)
}

// Metrics is what the engine reports.
type Metrics interface {
	OperationFinished(status string, took time.Duration)
	ClaimLost()
	EngineLag(time.Duration)
	OperationsByStatus(map[string]int64)
}

// Options tune an Engine; zero values take the defaults.
type Options struct {
	// Lease is how long a claim holds before another worker may take the
	// work over.
	Lease time.Duration
	// Poll is the pause between looks at the queue when it is empty.
	Poll    time.Duration
	Metrics Metrics
	Log     *slog.Logger
}

// Defaults.
const (
	DefaultLease = 30 * time.Second
	DefaultPoll  = 250 * time.Millisecond
	// claimBatch bounds the work one round claims, so a replica never holds
	// more than it finishes in a moment.
	claimBatch = 16
	// lagEvery and countEvery space the queries behind the gauges; the
	// count reads every operation's status, so it runs rarely.
	lagEvery   = 5 * time.Second
	countEvery = 30 * time.Second
)

// Engine is one replica's worker.
type Engine struct {
	store  Store
	opts   Options
	worker string
	wake   chan struct{}
}

// New returns an engine over store; Run starts it.
func New(store Store, opts Options) *Engine {
	if opts.Lease <= 0 {
		opts.Lease = DefaultLease
	}
	if opts.Poll <= 0 {
		opts.Poll = DefaultPoll
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Engine{store: store, opts: opts, worker: WorkerName(), wake: make(chan struct{}, 1)}
}

// WorkerName tells this replica's claims from every other's, including an
// earlier run of the same process: the host and a random suffix. The
// webhook deliveries' claims use it too, with a prefix of their own.
func WorkerName() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return host + "/" + hex.EncodeToString(b)
}

// Wake makes the engine look at the queue now instead of at its next poll.
func (e *Engine) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Run works until ctx ends. Failures (a database outage) are logged and
// retried on the next round; the queue is in the database, so nothing is
// lost meanwhile.
func (e *Engine) Run(ctx context.Context) {
	e.opts.Log.InfoContext(ctx, "engine started", slog.String("worker", e.worker), slog.Duration("lease", e.opts.Lease))
	var lastLag, lastCount time.Time
	for {
		full := e.round(ctx)
		if e.opts.Metrics != nil && time.Since(lastLag) >= lagEvery {
			if lag, err := e.store.EngineLag(ctx); err == nil {
				e.opts.Metrics.EngineLag(lag)
			}
			lastLag = time.Now()
		}
		if e.opts.Metrics != nil && time.Since(lastCount) >= countEvery {
			if counts, err := e.store.OperationsByStatus(ctx); err == nil {
				e.opts.Metrics.OperationsByStatus(counts)
			}
			lastCount = time.Now()
		}
		if full {
			continue // more may be due right now
		}
		select {
		case <-ctx.Done():
			return
		case <-e.wake:
		case <-time.After(e.opts.Poll):
		}
	}
}

// round claims one batch of due work and finishes it; full reports a full
// batch.
func (e *Engine) round(ctx context.Context) (full bool) {
	work, err := e.store.ClaimWork(ctx, e.worker, e.opts.Lease, claimBatch)
	if err != nil {
		if ctx.Err() == nil {
			e.opts.Log.WarnContext(ctx, "engine: claiming work", slog.String("error", err.Error()))
		}
		return false
	}
	for _, w := range work {
		finished, created, err := e.store.FinishWork(ctx, w, e.worker)
		switch {
		case err != nil:
			// The claim stays; the work is retried once its lease lapses.
			if ctx.Err() == nil {
				e.opts.Log.WarnContext(ctx, "engine: finishing work", slog.String("operation", w.OperationID), slog.String("error", err.Error()))
			}
		case !finished:
			if e.opts.Metrics != nil {
				e.opts.Metrics.ClaimLost()
			}
		case e.opts.Metrics != nil:
			e.opts.Metrics.OperationFinished(string(connections.StatusCompleted), time.Since(created))
		}
	}
	return len(work) == claimBatch
}
