// Package retention runs the background job that purges finished operations,
// expired idempotency keys, old changes and what deleted connections left.
package retention

import (
	"context"
	"log/slog"
	"time"

	"github.com/connops/connops/internal/postgres"
)

// purger is the store's purge.
type purger interface {
	Purge(ctx context.Context, age time.Duration, batch int) (postgres.Purged, error)
	PurgeChanges(ctx context.Context, age time.Duration, batch int) (n int64, skipped bool, err error)
}

// Job describes one retention loop.
type Job struct {
	Store purger
	// Age is how long finished operations are kept after their last update.
	Age time.Duration
	// ChangeAge is how long the change log keeps a change; 0 keeps every
	// change.
	ChangeAge time.Duration
	// Every is the pause between rounds.
	Every time.Duration
	// Batch is the rows deleted per statement: small, so each delete holds
	// its locks only briefly.
	Batch int
	Log   *slog.Logger
	// Purged, if set, is told what each round removed.
	Purged func(kind string, n int64)
}

// Run purges every j.Every until ctx ends. Failures are logged and retried on
// the next round: a database outage must not stop the job for good.
func (j Job) Run(ctx context.Context) {
	ticker := time.NewTicker(j.Every)
	defer ticker.Stop()
	for {
		j.round(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

func (j Job) round(ctx context.Context) {
	p, err := j.Store.Purge(ctx, j.Age, j.Batch)
	if err != nil {
		if ctx.Err() == nil {
			j.Log.WarnContext(ctx, "retention round failed", slog.String("error", err.Error()))
		}
		return
	}
	if p.Skipped {
		return
	}
	var changes int64
	if j.ChangeAge > 0 {
		var skipped bool
		changes, skipped, err = j.Store.PurgeChanges(ctx, j.ChangeAge, j.Batch)
		if err != nil && ctx.Err() == nil {
			j.Log.WarnContext(ctx, "retention round failed", slog.String("error", err.Error()))
		}
		if skipped {
			return
		}
	}
	if p.Operations > 0 || p.IdempotencyKeys > 0 {
		j.Log.InfoContext(ctx, "retention purged", slog.Int64("operations", p.Operations), slog.Int64("idempotency_keys", p.IdempotencyKeys))
	}
	if j.Purged != nil {
		j.Purged("operations", p.Operations)
		j.Purged("idempotency_keys", p.IdempotencyKeys)
		j.Purged("items", p.Items)
		j.Purged("external_groups", p.Groups)
		j.Purged("changes", changes)
	}
}
