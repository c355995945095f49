package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/connops/connops/internal/connections"
)

// Store implements connections.Store on PostgreSQL.
type Store struct {
	pool *pgxpool.Pool
}

var _ connections.Store = (*Store)(nil)

// NewStore returns a store over pool.
func NewStore(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool}
}

// visibleConnection is the scope filter every query on connections starts
// with: $1 tenant, $2 owned-only, $3 owner app. An owned-only scope without an
// app sees nothing, rather than every connection created without one.
const visibleConnection = `c.tenant_id = $1
  AND (NOT $2 OR ($3 <> '' AND (c.created_by_app = $3 OR $3 = ANY (c.authorized_app_ids))))`

func scopeArgs(s connections.Scope, more ...any) []any {
	return append([]any{s.TenantID, s.OwnedOnly, s.OwnerApp}, more...)
}

const connectionColumns = `c.id, c.name, coalesce(c.description, ''), c.state::text,
  c.authorized_app_ids, c.created_by_app, c.created_at, c.updated_at`

func scanConnection(row pgx.Row) (connections.Connection, error) {
	var c connections.Connection
	err := row.Scan(&c.ID, &c.Name, &c.Description, &c.State,
		&c.AuthorizedAppIDs, &c.CreatedByApp, &c.CreatedAt, &c.UpdatedAt)
	return c, err
}

const insertConnectionSQL = `
INSERT INTO connections AS c (tenant_id, id, name, description, state, authorized_app_ids, created_by_app)
VALUES ($1, $2, $3, nullif($4, ''), $5::connection_state, $6, $7)
RETURNING ` + connectionColumns

// CreateConnection inserts a connection in the scope's tenant.
func (s *Store) CreateConnection(ctx context.Context, scope connections.Scope, c connections.Connection) (connections.Connection, error) {
	apps := c.AuthorizedAppIDs
	if apps == nil {
		apps = []string{}
	}
	row := s.pool.QueryRow(ctx, insertConnectionSQL, scope.TenantID, c.ID, c.Name, c.Description,
		string(c.State), apps, c.CreatedByApp)
	created, err := scanConnection(row)
	if err != nil {
		return connections.Connection{}, fmt.Errorf("insert connection %s: %w", c.ID, domainError(err))
	}
	return created, nil
}

const getConnectionSQL = `SELECT ` + connectionColumns + ` FROM connections c WHERE ` + visibleConnection + ` AND c.id = $4`

// GetConnection reads one connection.
func (s *Store) GetConnection(ctx context.Context, scope connections.Scope, id string) (connections.Connection, error) {
	c, err := scanConnection(s.pool.QueryRow(ctx, getConnectionSQL, scopeArgs(scope, id)...))
	if err != nil {
		return connections.Connection{}, fmt.Errorf("select connection %s: %w", id, domainError(err))
	}
	return c, nil
}

const listConnectionsSQL = `SELECT ` + connectionColumns + ` FROM connections c WHERE ` + visibleConnection + ` ORDER BY c.id`

// ListConnections reads every connection in scope, ordered by id. A tenant
// holds a few dozen connections at most, so this is one small read.
func (s *Store) ListConnections(ctx context.Context, scope connections.Scope) ([]connections.Connection, error) {
	rows, err := s.pool.Query(ctx, listConnectionsSQL, scopeArgs(scope)...)
	if err != nil {
		return nil, fmt.Errorf("select connections: %w", err)
	}
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (connections.Connection, error) {
		return scanConnection(r)
	})
	if err != nil {
		return nil, fmt.Errorf("select connections: %w", err)
	}
	return cs, nil
}

const deleteConnectionSQL = `DELETE FROM connections c WHERE ` + visibleConnection + ` AND c.id = $4`

// DeleteConnection deletes a connection; the foreign key cascades to its
// operations in the same statement.
func (s *Store) DeleteConnection(ctx context.Context, scope connections.Scope, id string) error {
	tag, err := s.pool.Exec(ctx, deleteConnectionSQL, scopeArgs(scope, id)...)
	if err != nil {
		return fmt.Errorf("delete connection %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete connection %s: %w", id, connections.ErrNotFound)
	}
	return nil
}

// insertOperationSQL inserts only when the parent connection is in scope, so
// the scope check and the write are one statement and one round trip. No row
// back means the connection is not visible.
const insertOperationSQL = `
INSERT INTO operations (tenant_id, connection_id, id, status, error)
SELECT c.tenant_id, c.id, $5, $6::operation_status, $7::jsonb
FROM connections c WHERE ` + visibleConnection + ` AND c.id = $4
RETURNING created_at, updated_at`

// CreateOperation inserts an operation under a connection in scope.
func (s *Store) CreateOperation(ctx context.Context, scope connections.Scope, op connections.Operation) (connections.Operation, error) {
	errJSON, err := encodeError(op.Error)
	if err != nil {
		return connections.Operation{}, err
	}
	err = s.pool.QueryRow(ctx, insertOperationSQL,
		scopeArgs(scope, op.ConnectionID, op.ID, string(op.Status), errJSON)...).
		Scan(&op.CreatedAt, &op.UpdatedAt)
	if err != nil {
		return connections.Operation{}, fmt.Errorf("insert operation %s/%s: %w", op.ConnectionID, op.ID, domainError(err))
	}
	return op, nil
}

const getOperationSQL = `
SELECT o.id, o.status::text, o.error, o.created_at, o.updated_at
FROM operations o JOIN connections c ON c.tenant_id = o.tenant_id AND c.id = o.connection_id
WHERE ` + visibleConnection + ` AND c.id = $4 AND o.id = $5`

// GetOperation reads one operation of a connection in scope.
func (s *Store) GetOperation(ctx context.Context, scope connections.Scope, connectionID, id string) (connections.Operation, error) {
	op := connections.Operation{ConnectionID: connectionID}
	var errJSON []byte
	err := s.pool.QueryRow(ctx, getOperationSQL, scopeArgs(scope, connectionID, id)...).
		Scan(&op.ID, &op.Status, &errJSON, &op.CreatedAt, &op.UpdatedAt)
	if err != nil {
		return connections.Operation{}, fmt.Errorf("select operation %s/%s: %w", connectionID, id, domainError(err))
	}
	if op.Error, err = decodeError(errJSON); err != nil {
		return connections.Operation{}, fmt.Errorf("select operation %s/%s: %w", connectionID, id, err)
	}
	return op, nil
}

func encodeError(e *connections.PublicError) ([]byte, error) {
	if e == nil {
		return nil, nil
	}
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode operation error: %w", err)
	}
	return b, nil
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
