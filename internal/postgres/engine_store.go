package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connops/connops/internal/connections"
)

// claimWorkSQL claims up to $3 due items no worker holds (or whose
// holder's lease lapsed), oldest due first, for worker $1 with a lease of
// $2 seconds. SKIP LOCKED lets every replica's workers claim at once
// without waiting on each other.
const claimWorkSQL = `
WITH due AS (
  SELECT tenant_id, connection_id, operation_id FROM work_items
  WHERE due_at <= now() AND (claimed_by IS NULL OR lease_until < now())
  ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED
)
UPDATE work_items w SET claimed_by = $1, lease_until = now() + make_interval(secs => $2), attempts = w.attempts + 1
FROM due WHERE w.tenant_id = due.tenant_id AND w.connection_id = due.connection_id AND w.operation_id = due.operation_id
RETURNING w.tenant_id, w.connection_id, w.operation_id, w.attempts`

// ClaimWork claims due work for worker.
func (s *Store) ClaimWork(ctx context.Context, worker string, lease time.Duration, limit int) ([]connections.Work, error) {
	rows, err := s.pool.Query(ctx, claimWorkSQL, worker, lease.Seconds(), limit)
	if err != nil {
		return nil, fmt.Errorf("claim work: %w", domainError(err))
	}
	work, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (connections.Work, error) {
		var w connections.Work
		err := r.Scan(&w.TenantID, &w.ConnectionID, &w.OperationID, &w.Attempts)
		return w, err
	})
	if err != nil {
		return nil, fmt.Errorf("claim work: %w", domainError(err))
	}
	return work, nil
}

const lockConnectionOfWorkSQL = `SELECT 1 FROM connections WHERE tenant_id = $1 AND id = $2 FOR NO KEY UPDATE`

// FinishWork completes w's operation as worker, if worker still holds it.
// finished is false when the claim was lost: another worker took the item
// over after the lease lapsed, or it is done or gone. createdAt is the
// operation's creation time, for the provisioning duration.
func (s *Store) FinishWork(ctx context.Context, w connections.Work, worker string) (finished bool, createdAt time.Time, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The connection first, as a connection delete takes it before the
		// rows its cascade deletes: the two cannot deadlock.
		if err := tx.QueryRow(ctx, lockConnectionOfWorkSQL, w.TenantID, w.ConnectionID).Scan(new(int)); err != nil {
			return err
		}
		op, err := finishSchemaWork(ctx, tx, w.TenantID, w.ConnectionID, w.OperationID, connections.Outcome{Status: connections.StatusCompleted}, worker)
		createdAt = op.CreatedAt
		return err
	})
	switch {
	case errors.Is(err, errNotFinished), errors.Is(err, pgx.ErrNoRows):
		return false, time.Time{}, nil
	case err != nil:
		return false, time.Time{}, fmt.Errorf("finish operation %s/%s: %w", w.ConnectionID, w.OperationID, domainError(err))
	}
	s.changed(w.TenantID)
	return true, createdAt, nil
}

// FinishOperation ends a service-started operation for a caller (the
// control role), with the engine's consequences, whether or not a worker
// holds it.
func (s *Store) FinishOperation(ctx context.Context, scope connections.Scope, connectionID, id string, outcome connections.Outcome,
	check func(connections.Operation) error) (connections.Operation, error) {
	var op connections.Operation
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, lockVisibleConnectionSQL, scopeArgs(scope, connectionID)...).Scan(new(int)); err != nil {
			return err
		}
		current, err := scanOperation(tx.QueryRow(ctx, lockOperationSQL, scopeArgs(scope, connectionID, id)...), connectionID)
		if err != nil {
			return err
		}
		if err := check(current); err != nil {
			return err
		}
		op, err = finishSchemaWork(ctx, tx, scope.TenantID, connectionID, id, outcome, "")
		return err
	})
	if errors.Is(err, errNotFinished) {
		// The operation is in progress but its work is gone: nothing a
		// finish can apply to.
		return connections.Operation{}, fmt.Errorf("finish operation %s/%s: %w", connectionID, id, connections.ErrConflict)
	}
	if err != nil {
		return connections.Operation{}, fmt.Errorf("finish operation %s/%s: %w", connectionID, id, domainError(err))
	}
	s.changed(scope.TenantID)
	return op, nil
}

// takeWorkSQL removes the work item, for its holder only when worker ($4)
// is set. No row back: the item is gone or someone else holds it.
const takeWorkSQL = `
DELETE FROM work_items WHERE tenant_id = $1 AND connection_id = $2 AND operation_id = $3 AND ($4 = '' OR claimed_by = $4)
RETURNING 1`

const endOperationSQL = `
UPDATE operations SET status = $4::operation_status, error = $5::jsonb, version = version + 1, updated_at = now()
WHERE tenant_id = $1 AND connection_id = $2 AND id = $3 AND status = 'inprogress'
RETURNING ` + returningOperation

const returningOperation = `id, kind::text, status::text, error, version, created_at, updated_at`

const supersedeSchemaSQL = `
UPDATE schema_versions SET state = 'superseded', updated_at = now()
WHERE tenant_id = $1 AND connection_id = $2 AND state = 'active'`

const settleSchemaSQL = `
UPDATE schema_versions SET state = $4::schema_state, updated_at = now()
WHERE tenant_id = $1 AND connection_id = $2 AND operation_id = $3 AND state = 'pending'`

// activateSchemaSQL points the connection at its new schema, against which
// items are checked from now on, and moves a draft connection to ready.
const activateSchemaSQL = `
UPDATE connections SET state = CASE WHEN state = 'draft' THEN 'ready'::connection_state ELSE state END,
  active_schema_version = (SELECT version FROM schema_versions WHERE tenant_id = $1 AND connection_id = $2 AND operation_id = $3),
  version = version + 1, updated_at = now()
WHERE tenant_id = $1 AND id = $2`

// finishSchemaWork is the one way a schema registration ends, for the
// engine and the control role alike: the work item goes, the operation
// ends, and on success the schema becomes the active one and a draft
// connection ready; on failure the schema is marked failed and the
// connection keeps its state. The caller holds the connection's lock.
func finishSchemaWork(ctx context.Context, tx pgx.Tx, tenant, connectionID, opID string, outcome connections.Outcome, worker string) (connections.Operation, error) {
	tag, err := tx.Exec(ctx, takeWorkSQL, tenant, connectionID, opID, worker)
	if err != nil {
		return connections.Operation{}, err
	}
	if tag.RowsAffected() == 0 {
		return connections.Operation{}, errNotFinished
	}
	errJSON, err := encodeError(outcome.Error)
	if err != nil {
		return connections.Operation{}, err
	}
	op, err := scanOperation(tx.QueryRow(ctx, endOperationSQL, tenant, connectionID, opID, string(outcome.Status), errJSON), connectionID)
	if err != nil {
		return connections.Operation{}, err
	}
	state := "failed"
	if outcome.Status == connections.StatusCompleted {
		state = "active"
		if _, err := tx.Exec(ctx, supersedeSchemaSQL, tenant, connectionID); err != nil {
			return op, err
		}
	}
	if _, err := tx.Exec(ctx, settleSchemaSQL, tenant, connectionID, opID, state); err != nil {
		return op, err
	}
	if outcome.Status == connections.StatusCompleted {
		if _, err := tx.Exec(ctx, activateSchemaSQL, tenant, connectionID, opID); err != nil {
			return op, err
		}
	}
	return op, nil
}

// engineLagSQL is how long the oldest due, unclaimed item has waited.
const engineLagSQL = `
SELECT coalesce(extract(epoch FROM now() - min(due_at)), 0)::float8 FROM work_items
WHERE due_at <= now() AND (claimed_by IS NULL OR lease_until < now())`

// EngineLag is the age of the oldest due work no worker holds.
func (s *Store) EngineLag(ctx context.Context) (time.Duration, error) {
	var secs float64
	if err := s.pool.QueryRow(ctx, engineLagSQL).Scan(&secs); err != nil {
		return 0, fmt.Errorf("engine lag: %w", domainError(err))
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// operationsByStatusSQL counts operations per status over every tenant, for
// the metrics.
const operationsByStatusSQL = `SELECT status::text, count(*) FROM operations GROUP BY status`

// OperationsByStatus counts all operations by status.
func (s *Store) OperationsByStatus(ctx context.Context) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, operationsByStatusSQL)
	if err != nil {
		return nil, fmt.Errorf("count operations: %w", domainError(err))
	}
	out := map[string]int64{}
	var status string
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&status, &n}, func() error { out[status] = n; return nil }); err != nil {
		return nil, fmt.Errorf("count operations: %w", domainError(err))
	}
	return out, nil
}
