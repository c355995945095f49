package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/connops/connops/internal/connections"
)

// CreateOperation inserts an operation under a connection in scope. Without
// an idempotency key it goes through the connection's write queue (see
// writeQueues); with one, it runs the same statements in its own
// transaction with the key.
func (s *Store) CreateOperation(ctx context.Context, scope connections.Scope, op connections.Operation, maxPerConnection int64, idem *connections.Idempotency) (connections.Operation, bool, error) {
	req, err := newOperationOf(op, maxPerConnection)
	if err != nil {
		return connections.Operation{}, false, err
	}
	key := queueKey{scope: scope, connection: op.ConnectionID}
	if idem == nil {
		created, err := s.creates.submit(ctx, key, req)
		return created, false, err
	}
	release, err := s.gate.Acquire(ctx, scope.TenantID)
	if err != nil {
		return connections.Operation{}, false, err
	}
	defer release()
	snap, replayed, err := inTx(ctx, s.pool, scope.TenantID, idem, func(tx pgx.Tx) (operationSnapshot, error) {
		results, err := insertOperations(ctx, tx, key, []newOperation{req})
		if err != nil {
			return operationSnapshot{}, err
		}
		return snapshotOf(results[0].out), results[0].err
	})
	if err != nil {
		return connections.Operation{}, false, fmt.Errorf("insert operation %s/%s: %w", op.ConnectionID, op.ID, domainError(err))
	}
	if !replayed {
		s.changed(scope.TenantID)
	}
	return snap.operation(), replayed, nil
}

const operationColumns = `o.id, o.kind::text, o.status::text, o.error, o.version, o.created_at, o.updated_at`

// operationsInScope joins operations to their connection so every read
// applies the caller's scope.
const operationsInScope = `FROM operations o JOIN connections c ON c.tenant_id = o.tenant_id AND c.id = o.connection_id
WHERE ` + visibleConnection + ` AND c.id = $4`

const getOperationSQL = `SELECT ` + operationColumns + ` ` + operationsInScope + ` AND o.id = $5`

func scanOperation(row pgx.Row, connectionID string) (connections.Operation, error) {
	op := connections.Operation{ConnectionID: connectionID}
	var errJSON []byte
	if err := row.Scan(&op.ID, &op.Kind, &op.Status, &errJSON, &op.Version, &op.CreatedAt, &op.UpdatedAt); err != nil {
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

// rowOverhead is what an operation costs on the wire beyond its id and
// error: the property names, the status and the ETag.
const rowOverhead = "64"

// ListOperations reads one page of a connection's operations. The page ends
// at lq.Top rows or once the rows' estimated sizes reach lq.MaxBytes,
// whichever comes first. Sizes come from the error_bytes column, so rows
// past the budget are never read, and an unselected error is not read at
// all.
func (s *Store) ListOperations(ctx context.Context, scope connections.Scope, connectionID string, lq connections.ListQuery) (connections.Page[connections.Operation], error) {
	size := `octet_length(o.id) + ` + rowOverhead
	if lq.Selects("error") {
		size += ` + o.error_bytes`
	}
	q := &query{args: scopeArgs(scope, connectionID)}
	q.sql.WriteString(`WITH page AS (SELECT o.id, o.kind, o.status, o.version, o.created_at, o.updated_at, ` + size + ` AS size ` + operationsInScope)
	if lq.Filter != nil {
		q.sql.WriteString(" AND ")
		q.writeFilter(lq.Filter)
	}
	if slices.ContainsFunc(lq.OrderBy, func(k connections.OrderKey) bool { return k.Field == connections.FieldStatus }) {
		// Always true; it lets the planner use the partial status index
		// (see migration 00007) for the order.
		q.sql.WriteString(" AND o.status IS NOT NULL")
	}
	q.writePage(lq, operationColumn)
	q.sql.WriteString(`), sized AS (SELECT p.*, sum(size) OVER (`)
	q.writeOrder(lq.OrderBy, pageColumn)
	q.sql.WriteString(` ROWS UNBOUNDED PRECEDING) - size AS before, count(*) OVER () AS fetched FROM page p)
SELECT p.id, p.kind::text, p.status::text, `)
	if lq.Selects("error") {
		q.sql.WriteString(`e.error, p.version, p.created_at, p.updated_at, p.fetched FROM sized p
LEFT JOIN operations e ON e.tenant_id = $1 AND e.connection_id = $4 AND e.id = p.id`)
	} else {
		q.sql.WriteString(`NULL::jsonb, p.version, p.created_at, p.updated_at, p.fetched FROM sized p`)
	}
	q.sql.WriteString(` WHERE p.before < ` + q.bind(lq.MaxBytes))
	q.writeOrder(lq.OrderBy, pageColumn)
	var page connections.Page[connections.Operation]
	var fetched int
	rows, err := s.pool.Query(ctx, q.sql.String(), q.args...)
	if err != nil {
		return page, fmt.Errorf("select operations: %w", domainError(err))
	}
	page.Items, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (connections.Operation, error) {
		op := connections.Operation{ConnectionID: connectionID}
		var errJSON []byte
		if err := r.Scan(&op.ID, &op.Kind, &op.Status, &errJSON, &op.Version, &op.CreatedAt, &op.UpdatedAt, &fetched); err != nil {
			return op, err
		}
		op.Error, err = decodeError(errJSON)
		return op, err
	})
	if err != nil {
		return page, fmt.Errorf("select operations: %w", domainError(err))
	}
	if fetched > len(page.Items) || len(page.Items) > lq.Top {
		page.Items = page.Items[:min(len(page.Items), lq.Top)]
		page.Next = operationCursor(page.Items[len(page.Items)-1], lq.OrderBy)
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

// operationCursor is the position after op in the given order.
func operationCursor(op connections.Operation, order []connections.OrderKey) connections.Cursor {
	var c connections.Cursor
	for _, k := range order {
		if k.Field == connections.FieldStatus {
			c = append(c, string(op.Status))
		} else {
			c = append(c, op.ID)
		}
	}
	return c
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
		return connections.Operation{}, fmt.Errorf("update operation %s/%s: %w", connectionID, id, domainError(err))
	}
	s.changed(scope.TenantID)
	return op, nil
}

// deleteOperationSQL deletes and uncounts in one statement; the UPDATE
// touches one row exactly when the DELETE removed one.
const deleteOperationSQL = `
WITH gone AS (
  DELETE FROM operations o USING connections c
  WHERE c.tenant_id = o.tenant_id AND c.id = o.connection_id AND ` + visibleConnection + ` AND c.id = $4 AND o.id = $5
  RETURNING o.tenant_id, o.connection_id)
UPDATE connection_counts oc SET operations = oc.operations - 1
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
	s.changed(scope.TenantID)
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
