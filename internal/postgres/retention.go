package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// retentionLockSQL makes the purge a one-replica job: each batch runs in its
// own short transaction that first takes this transaction-scoped lock, and a
// replica that cannot get it skips the round. A transaction-scoped lock ends
// with its transaction on the server connection that took it, so it stays
// correct behind PgBouncer in transaction mode, where a session lock could
// be taken on one server connection and released on another.
const retentionLockSQL = `SELECT pg_try_advisory_xact_lock(hashtextextended('connops.retention', 0))`

// purgeOperationsSQL removes one small batch of finished operations, oldest
// first, skipping rows someone holds, so it never blocks writers for long.
// It uncounts the rows on their connections in the same statement and
// answers how many it deleted.
const purgeOperationsSQL = `
WITH doomed AS (
  SELECT tenant_id, connection_id, id FROM operations
  WHERE status IN ('completed', 'failed') AND updated_at < now() - make_interval(secs => $1)
  ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED
), gone AS (
  DELETE FROM operations o USING doomed d
  WHERE o.tenant_id = d.tenant_id AND o.connection_id = d.connection_id AND o.id = d.id
  RETURNING o.tenant_id, o.connection_id
), uncounted AS (
  UPDATE connection_counts oc SET operations = greatest(oc.operations - g.n, 0)
  FROM (SELECT tenant_id, connection_id, count(*) AS n FROM gone GROUP BY 1, 2) g
  WHERE oc.tenant_id = g.tenant_id AND oc.connection_id = g.connection_id
)
SELECT count(*) FROM gone`

const purgeKeysSQL = `
WITH gone AS (
  DELETE FROM idempotency_keys WHERE ctid IN (
    SELECT ctid FROM idempotency_keys WHERE expires_at < now() LIMIT $1 FOR UPDATE SKIP LOCKED)
  RETURNING 1)
SELECT count(*) FROM gone`

// The items and groups of deleted connections go a batch at a time, oldest
// deletion first: items (their activities cascade), then groups (their
// members cascade), then the record of the deletion once both are gone.
const purgeItemsSQL = `
WITH gone AS (
  DELETE FROM items i WHERE (i.tenant_id, i.connection_uid, i.id) IN (
    SELECT x.tenant_id, x.connection_uid, x.id FROM deleted_connections d
    JOIN items x ON x.tenant_id = d.tenant_id AND x.connection_uid = d.connection_uid
    LIMIT $1)
  RETURNING 1)
SELECT count(*) FROM gone`

const purgeGroupsSQL = `
WITH gone AS (
  DELETE FROM external_groups g WHERE (g.tenant_id, g.connection_uid, g.id) IN (
    SELECT x.tenant_id, x.connection_uid, x.id FROM deleted_connections d
    JOIN external_groups x ON x.tenant_id = d.tenant_id AND x.connection_uid = d.connection_uid
    LIMIT $1)
  RETURNING 1)
SELECT count(*) FROM gone`

const purgeDeletedSQL = `
WITH gone AS (
  DELETE FROM deleted_connections d WHERE (d.tenant_id, d.connection_uid) IN (
    SELECT d2.tenant_id, d2.connection_uid FROM deleted_connections d2
    WHERE NOT EXISTS (SELECT 1 FROM items i WHERE i.tenant_id = d2.tenant_id AND i.connection_uid = d2.connection_uid)
      AND NOT EXISTS (SELECT 1 FROM external_groups g WHERE g.tenant_id = d2.tenant_id AND g.connection_uid = d2.connection_uid)
    LIMIT $1)
  RETURNING 1)
SELECT count(*) FROM gone`

// Purged counts what one retention round removed.
type Purged struct {
	Operations, IdempotencyKeys int64
	// Items and Groups are those of deleted connections.
	Items, Groups int64
	// Skipped is set when another replica held the job, and the round
	// stopped there.
	Skipped bool
}

// Purge deletes finished operations last updated more than age ago and
// expired idempotency keys, in batches of batch rows, until none are left or
// ctx ends. When another replica holds the job, the round stops there with
// Skipped set.
func (s *Store) Purge(ctx context.Context, age time.Duration, batch int) (Purged, error) {
	var p Purged
	for _, step := range []struct {
		sql  string
		args []any
		n    *int64
	}{
		{purgeOperationsSQL, []any{age.Seconds(), batch}, &p.Operations},
		{purgeKeysSQL, []any{batch}, &p.IdempotencyKeys},
		{purgeItemsSQL, []any{batch}, &p.Items},
		{purgeGroupsSQL, []any{batch}, &p.Groups},
		{purgeDeletedSQL, []any{batch}, new(int64)},
	} {
		for {
			n, locked, err := s.purgeBatch(ctx, step.sql, step.args)
			if err != nil {
				return p, fmt.Errorf("purge: %w", domainError(err))
			}
			if !locked {
				p.Skipped = true
				return p, nil
			}
			*step.n += n
			if n < int64(batch) {
				break
			}
		}
	}
	return p, nil
}

// purgeBatch runs one delete under the job lock, in one transaction.
func (s *Store) purgeBatch(ctx context.Context, sql string, args []any) (n int64, locked bool, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, retentionLockSQL).Scan(&locked); err != nil || !locked {
			return err
		}
		return tx.QueryRow(ctx, sql, args...).Scan(&n)
	})
	return n, locked, err
}

// purgeChangesSQL removes one batch of changes older than $1 seconds and
// moves each tenant's horizon past the highest id it removed, in one
// statement: a stream resuming below the horizon is told it may have
// missed changes.
const purgeChangesSQL = `
WITH gone AS (
  DELETE FROM changes c WHERE c.ctid IN (
    SELECT ctid FROM changes WHERE at < now() - make_interval(secs => $1) LIMIT $2)
  RETURNING c.tenant_id, c.id
), horizon AS (
  INSERT INTO change_log_horizon (tenant_id, purged_through)
  SELECT tenant_id, max(id) FROM gone GROUP BY tenant_id
  ON CONFLICT (tenant_id) DO UPDATE SET purged_through = greatest(change_log_horizon.purged_through, EXCLUDED.purged_through)
)
SELECT count(*) FROM gone`

// PurgeChanges deletes changes logged more than age ago, in batches of
// batch rows, under the retention job's lock like Purge.
func (s *Store) PurgeChanges(ctx context.Context, age time.Duration, batch int) (n int64, skipped bool, err error) {
	for {
		got, locked, err := s.purgeBatch(ctx, purgeChangesSQL, []any{age.Seconds(), batch})
		if err != nil {
			return n, false, fmt.Errorf("purge changes: %w", domainError(err))
		}
		if !locked {
			return n, true, nil
		}
		n += got
		if got < int64(batch) {
			return n, false, nil
		}
	}
}
