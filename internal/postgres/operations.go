package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connops/connops/internal/connections"
)

// insertOperationSQL inserts only when the parent connection is in scope and
// under its cap ($8), and counts the new row, all in one statement and one
// round trip. The connection's count row is locked, so concurrent
// creates on one connection cannot both take its last slot. visible = 0 means
// the connection is not in scope, slot = 0 that it was deleted meanwhile;
// otherwise no version means the cap is reached. A taken id fails the statement with a unique violation.
const insertOperationSQL = `
WITH target AS (
  SELECT c.tenant_id, c.id FROM connections c WHERE ` + visibleConnection + ` AND c.id = $4
), slot AS (
  SELECT oc.tenant_id, oc.connection_id, oc.n FROM operation_counts oc
  JOIN target t ON oc.tenant_id = t.tenant_id AND oc.connection_id = t.id
  FOR UPDATE OF oc
), ins AS (
  INSERT INTO operations (tenant_id, connection_id, id, status, error)
  SELECT s.tenant_id, s.connection_id, $5, $6::operation_status, $7::jsonb FROM slot s WHERE s.n < $8
  RETURNING tenant_id, connection_id, version, created_at, updated_at
), counted AS (
  UPDATE operation_counts oc SET n = oc.n + 1
  FROM ins WHERE oc.tenant_id = ins.tenant_id AND oc.connection_id = ins.connection_id
)
SELECT (SELECT count(*) FROM target), (SELECT count(*) FROM slot), ins.version, ins.created_at, ins.updated_at
FROM (SELECT 1) AS one LEFT JOIN ins ON true`

// CreateOperation inserts an operation under a connection in scope. Without
// an idempotency key it joins whatever other creates are going out at the
// same moment (see coalescer); with one, it runs in its own transaction with
// the key.
func (s *Store) CreateOperation(ctx context.Context, scope connections.Scope, op connections.Operation, maxPerConnection int64, idem *connections.Idempotency) (connections.Operation, bool, error) {
	if idem == nil {
		created, err := s.creates.create(ctx, scope, op, maxPerConnection)
		return created, false, err
	}
	snap, replayed, err := inTx(ctx, s.pool, scope.TenantID, idem, func(tx pgx.Tx) (operationSnapshot, error) {
		created, err := insertOperation(ctx, tx, scope, op, maxPerConnection)
		return snapshotOf(created), err
	})
	if err != nil {
		return connections.Operation{}, false, fmt.Errorf("insert operation %s/%s: %w", op.ConnectionID, op.ID, domainError(err))
	}
	return snap.operation(), replayed, nil
}

// queryRower is what a single-statement write needs: the pool or a transaction.
type queryRower interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func insertOperation(ctx context.Context, db queryRower, scope connections.Scope, op connections.Operation, maxPerConnection int64) (connections.Operation, error) {
	errJSON, err := encodeError(op.Error)
	if err != nil {
		return connections.Operation{}, err
	}
	var visible, slot int
	var version *int64
	var created, updated *time.Time
	err = db.QueryRow(ctx, insertOperationSQL,
		scopeArgs(scope, op.ConnectionID, op.ID, string(op.Status), errJSON, maxPerConnection)...).
		Scan(&visible, &slot, &version, &created, &updated)
	switch {
	case err != nil:
		return connections.Operation{}, fmt.Errorf("insert operation %s/%s: %w", op.ConnectionID, op.ID, domainError(err))
	case visible == 0 || slot == 0:
		// No count row to lock: the connection was deleted while we waited.
		return connections.Operation{}, fmt.Errorf("insert operation %s/%s: %w", op.ConnectionID, op.ID, connections.ErrNotFound)
	case version == nil:
		return connections.Operation{}, fmt.Errorf("insert operation %s/%s: %w", op.ConnectionID, op.ID, connections.ErrLimitExceeded)
	}
	op.Version, op.CreatedAt, op.UpdatedAt = *version, *created, *updated
	return op, nil
}

const operationColumns = `o.id, o.status::text, o.error, o.version, o.created_at, o.updated_at`

// operationsInScope joins operations to their connection so every read
// applies the caller's scope.
const operationsInScope = `FROM operations o JOIN connections c ON c.tenant_id = o.tenant_id AND c.id = o.connection_id
WHERE ` + visibleConnection + ` AND c.id = $4`

const getOperationSQL = `SELECT ` + operationColumns + ` ` + operationsInScope + ` AND o.id = $5`

func scanOperation(row pgx.Row, connectionID string) (connections.Operation, error) {
	op := connections.Operation{ConnectionID: connectionID}
	var errJSON []byte
	if err := row.Scan(&op.ID, &op.Status, &errJSON, &op.Version, &op.CreatedAt, &op.UpdatedAt); err != nil {
		return op, err
	}
	var err error
	op.Error, err = decodeError(errJSON)
	return op, err
}

// GetOperation reads one operation of a connection in scope.
func (s *Store) GetOperation(ctx context.Context, scope connections.Scope, connectionID, id string) (connections.Operation, error) {
	op, err := scanOperation(s.pool.QueryRow(ctx, getOperationSQL, scopeArgs(scope, connectionID, id)...), connectionID)
	if err != nil {
		return connections.Operation{}, fmt.Errorf("select operation %s/%s: %w", connectionID, id, domainError(err))
	}
	return op, nil
}

// ListOperations reads one page of a connection's operations.
func (s *Store) ListOperations(ctx context.Context, scope connections.Scope, connectionID string, lq connections.ListQuery) (connections.Page[connections.Operation], error) {
	q := &query{args: scopeArgs(scope, connectionID)}
	q.sql.WriteString(`SELECT ` + operationColumns + ` ` + operationsInScope)
	if lq.Filter != nil {
		q.sql.WriteString(" AND ")
		q.writeFilter(lq.Filter)
	}
	q.writePage(lq, operationColumn)
	page, err := selectPage(ctx, s.pool, q, lq,
		func(r pgx.CollectableRow) (connections.Operation, error) { return scanOperation(r, connectionID) },
		func(op connections.Operation, field string) string {
			if field == connections.FieldStatus {
				return string(op.Status)
			}
			return op.ID
		})
	if err != nil {
		return page, fmt.Errorf("select operations: %w", err)
	}
	if len(page.Items) == 0 || lq.Count {
		// An empty page may mean the connection is out of scope: the count
		// query tells both apart in one round trip.
		n, err := s.CountOperations(ctx, scope, connectionID, lq.Filter)
		if err != nil {
			return page, err
		}
		if lq.Count {
			page.Count = &n
		}
	}
	return page, nil
}

// countOperationsSQL counts within scope and, through the outer aggregate,
// also says whether the connection is visible at all (NULL when it is not).
const countOperationsSQL = `SELECT (SELECT count(*) FROM operations o WHERE o.tenant_id = c.tenant_id AND o.connection_id = c.id`

// CountOperations counts the operations of a connection in scope that match f.
func (s *Store) CountOperations(ctx context.Context, scope connections.Scope, connectionID string, f connections.Filter) (int64, error) {
	q := &query{args: scopeArgs(scope, connectionID)}
	q.sql.WriteString(countOperationsSQL)
	if f != nil {
		q.sql.WriteString(" AND ")
		q.writeFilter(f)
	}
	q.sql.WriteString(`) FROM connections c WHERE ` + visibleConnection + ` AND c.id = $4`)
	var n int64
	if err := s.pool.QueryRow(ctx, q.sql.String(), q.args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count operations of %s: %w", connectionID, domainError(err))
	}
	return n, nil
}

const lockOperationSQL = `SELECT ` + operationColumns + ` ` + operationsInScope + ` AND o.id = $5 FOR UPDATE OF o`

const updateOperationSQL = `
UPDATE operations SET status = $4::operation_status, error = $5::jsonb, version = version + 1, updated_at = now()
WHERE tenant_id = $1 AND connection_id = $2 AND id = $3
RETURNING version, updated_at`

// UpdateOperation locks the row, lets change decide, and writes the result in
// the same transaction, so concurrent PATCHes serialize on the row.
func (s *Store) UpdateOperation(ctx context.Context, scope connections.Scope, connectionID, id string, change func(*connections.Operation) error) (connections.Operation, error) {
	var op connections.Operation
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		op, err = scanOperation(tx.QueryRow(ctx, lockOperationSQL, scopeArgs(scope, connectionID, id)...), connectionID)
		if err != nil {
			return domainError(err)
		}
		if err := change(&op); err != nil {
			return err
		}
		errJSON, err := encodeError(op.Error)
		if err != nil {
			return err
		}
		return tx.QueryRow(ctx, updateOperationSQL, scope.TenantID, connectionID, id, string(op.Status), errJSON).
			Scan(&op.Version, &op.UpdatedAt)
	})
	if err != nil {
		var pub *connections.Error
		if errors.As(err, &pub) {
			return connections.Operation{}, pub
		}
		return connections.Operation{}, fmt.Errorf("update operation %s/%s: %w", connectionID, id, domainError(err))
	}
	return op, nil
}

// deleteOperationSQL deletes and uncounts in one statement; the UPDATE
// touches one row exactly when the DELETE removed one.
const deleteOperationSQL = `
WITH gone AS (
  DELETE FROM operations o USING connections c
  WHERE c.tenant_id = o.tenant_id AND c.id = o.connection_id AND ` + visibleConnection + ` AND c.id = $4 AND o.id = $5
  RETURNING o.tenant_id, o.connection_id)
UPDATE operation_counts oc SET n = oc.n - 1
FROM gone WHERE oc.tenant_id = gone.tenant_id AND oc.connection_id = gone.connection_id`

// DeleteOperation deletes one operation of a connection in scope.
func (s *Store) DeleteOperation(ctx context.Context, scope connections.Scope, connectionID, id string) error {
	tag, err := s.pool.Exec(ctx, deleteOperationSQL, scopeArgs(scope, connectionID, id)...)
	if err != nil {
		return fmt.Errorf("delete operation %s/%s: %w", connectionID, id, domainError(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete operation %s/%s: %w", connectionID, id, connections.ErrNotFound)
	}
	return nil
}

// encodeError renders e as JSON text, nil for none. Text, not []byte: in
// pgx's exec and simple_protocol modes (needed behind PgBouncer before 1.21)
// a []byte argument is sent as bytea, which a jsonb parameter rejects.
func encodeError(e *connections.PublicError) (*string, error) {
	if e == nil {
		return nil, nil
	}
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode operation error: %w", err)
	}
	s := string(b)
	return &s, nil
}

func decodeError(b []byte) (*connections.PublicError, error) {
	if b == nil {
		return nil, nil
	}
	var e connections.PublicError
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("decode stored error: %w", err)
	}
	return &e, nil
}
