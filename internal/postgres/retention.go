package postgres

import (
	"context"
	"fmt"
	"time"
)

// retentionLockSQL makes the purge a one-replica job: whoever holds this
// session lock purges, the others skip the round.
const (
	retentionLockSQL   = `SELECT pg_try_advisory_lock(hashtextextended('connops.retention', 0))`
	retentionUnlockSQL = `SELECT pg_advisory_unlock(hashtextextended('connops.retention', 0))`
)

// purgeOperationsSQL removes one small batch of finished operations, oldest
// first, skipping rows someone holds, so it never blocks writers for long.
const purgeOperationsSQL = `
WITH doomed AS (
  SELECT tenant_id, connection_id, id FROM operations
  WHERE status IN ('completed', 'failed') AND updated_at < now() - make_interval(secs => $1)
  ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED)
DELETE FROM operations o USING doomed d
WHERE o.tenant_id = d.tenant_id AND o.connection_id = d.connection_id AND o.id = d.id`

const purgeKeysSQL = `
DELETE FROM idempotency_keys WHERE ctid IN (
  SELECT ctid FROM idempotency_keys WHERE expires_at < now() LIMIT $1 FOR UPDATE SKIP LOCKED)`

// Purged counts what one retention round removed.
type Purged struct {
	Operations, IdempotencyKeys int64
	// Skipped is set when another replica held the job.
	Skipped bool
}

// Purge deletes finished operations last updated more than age ago and
// expired idempotency keys, in batches of batch rows, until none are left or
// ctx ends.
func (s *Store) Purge(ctx context.Context, age time.Duration, batch int) (Purged, error) {
	var p Purged
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return p, fmt.Errorf("purge: %w", domainError(err))
	}
	defer conn.Release()
	var locked bool
	if err := conn.QueryRow(ctx, retentionLockSQL).Scan(&locked); err != nil {
		return p, fmt.Errorf("purge lock: %w", err)
	}
	if !locked {
		p.Skipped = true
		return p, nil
	}
	defer conn.Exec(context.WithoutCancel(ctx), retentionUnlockSQL) //nolint:errcheck // the session ends the lock anyway

	for _, step := range []struct {
		sql  string
		args []any
		n    *int64
	}{
		{purgeOperationsSQL, []any{age.Seconds(), batch}, &p.Operations},
		{purgeKeysSQL, []any{batch}, &p.IdempotencyKeys},
	} {
		for {
			tag, err := conn.Exec(ctx, step.sql, step.args...)
			if err != nil {
				return p, fmt.Errorf("purge: %w", domainError(err))
			}
			*step.n += tag.RowsAffected()
			if tag.RowsAffected() < int64(batch) {
				break
			}
		}
	}
	return p, nil
}
