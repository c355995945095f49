package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connops/connops/internal/connections"
)

// lockVisibleConnectionSQL takes the connection row for a change that must
// not interleave with another like it (two schema registrations, a finish
// and a PATCH). NO KEY UPDATE leaves creates, which hold key-share locks
// through their foreign key, unblocked.
const lockVisibleConnectionSQL = `SELECT 1 FROM connections c WHERE ` + visibleConnection + ` AND c.id = $4 FOR NO KEY UPDATE`

const schemaStateSQL = `
SELECT state::text, schema, operation_id FROM schema_versions
WHERE tenant_id = $1 AND connection_id = $2 AND state IN ('pending', 'active')`

const insertSchemaVersionSQL = `
INSERT INTO schema_versions (tenant_id, connection_id, version, operation_id, schema)
SELECT $1, $2, coalesce(max(version), 0) + 1, $3, $4::jsonb FROM schema_versions
WHERE tenant_id = $1 AND connection_id = $2`

// insertWorkSQL queues the operation's work; a NULL delay (manual
// provisioning) leaves it never due.
const insertWorkSQL = `
INSERT INTO work_items (tenant_id, connection_id, operation_id, due_at)
VALUES ($1, $2, $3, now() + make_interval(secs => $4))`

// RegisterSchema records a schema version, its operation and its work
// item in one transaction, under the connection's lock.
func (s *Store) RegisterSchema(ctx context.Context, scope connections.Scope, connectionID string, schema connections.Schema,
	op connections.Operation, due *time.Duration, maxPerConnection int64, check func(active *connections.Schema, running string) error) (connections.Operation, error) {
	doc, err := encodeSchema(schema)
	if err != nil {
		return connections.Operation{}, err
	}
	var created connections.Operation
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, lockVisibleConnectionSQL, scopeArgs(scope, connectionID)...).Scan(new(int)); err != nil {
			return err
		}
		active, running, err := schemaState(ctx, tx, scope.TenantID, connectionID)
		if err != nil {
			return err
		}
		if err := check(active, running); err != nil {
			return err
		}
		results, err := insertOperations(ctx, tx, queueKey{scope: scope, connection: connectionID},
			[]newOperation{{op: op, max: maxPerConnection}})
		if err != nil {
			return err
		}
		if results[0].err != nil {
			return results[0].err
		}
		created = results[0].out
		if _, err := tx.Exec(ctx, insertSchemaVersionSQL, scope.TenantID, connectionID, op.ID, doc); err != nil {
			return err
		}
		var delay *float64
		if due != nil {
			secs := due.Seconds()
			delay = &secs
		}
		_, err = tx.Exec(ctx, insertWorkSQL, scope.TenantID, connectionID, op.ID, delay)
		return err
	})
	if err != nil {
		return connections.Operation{}, fmt.Errorf("register schema on %s: %w", connectionID, domainError(err))
	}
	s.changed(scope.TenantID)
	return created, nil
}

// schemaState reads the active schema (nil when none) and the operation of
// a registration still pending ("" when none).
func schemaState(ctx context.Context, tx pgx.Tx, tenant, connectionID string) (*connections.Schema, string, error) {
	rows, err := tx.Query(ctx, schemaStateSQL, tenant, connectionID)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var active *connections.Schema
	var running string
	for rows.Next() {
		var state, opID string
		var doc []byte
		if err := rows.Scan(&state, &doc, &opID); err != nil {
			return nil, "", err
		}
		if state == "pending" {
			running = opID
			continue
		}
		s, err := decodeSchema(doc)
		if err != nil {
			return nil, "", err
		}
		active = &s
	}
	return active, running, rows.Err()
}

// getSchemaSQL answers for a visible connection only (no row: none), with
// its pending schema version, else its active one (NULLs: neither).
const getSchemaSQL = `
SELECT sv.schema, sv.operation_id, sv.state::text, sv.created_at
FROM connections c
LEFT JOIN LATERAL (
  SELECT schema, operation_id, state, created_at FROM schema_versions
  WHERE tenant_id = c.tenant_id AND connection_id = c.id AND state IN ('pending', 'active')
  ORDER BY state = 'pending' DESC LIMIT 1
) sv ON true
WHERE ` + visibleConnection + ` AND c.id = $4`

// GetSchema reads the schema a connection was last sent, while it is being
// registered, or the active one.
func (s *Store) GetSchema(ctx context.Context, scope connections.Scope, connectionID string) (connections.SchemaVersion, bool, error) {
	var doc []byte
	var opID, state *string
	var at *time.Time
	err := s.pool.QueryRow(ctx, getSchemaSQL, scopeArgs(scope, connectionID)...).Scan(&doc, &opID, &state, &at)
	if err != nil {
		return connections.SchemaVersion{}, false, fmt.Errorf("select schema of %s: %w", connectionID, domainError(err))
	}
	if doc == nil {
		return connections.SchemaVersion{}, false, nil
	}
	schema, err := decodeSchema(doc)
	if err != nil {
		return connections.SchemaVersion{}, false, err
	}
	return connections.SchemaVersion{Schema: schema, OperationID: *opID, Active: *state == "active", SubmittedAt: *at}, true, nil
}

// errNotFinished: the work item was gone (finished already, or its
// connection deleted) or claimed by another worker.
var errNotFinished = errors.New("work no longer held")
