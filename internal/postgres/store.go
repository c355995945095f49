package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/connops/connops/internal/connections"
	"github.com/connops/connops/internal/tenantgate"
)

// Store implements connections.Store on PostgreSQL.
type Store struct {
	pool    *pgxpool.Pool
	gate    *tenantgate.Gate
	changed func(tenantID string)
	creates *writeQueues[newOperation, connections.Operation]
	items   *writeQueues[itemWrite, bool]
}

var _ connections.Store = (*Store)(nil)

// StoreOptions tune a Store; the zero value is fine.
type StoreOptions struct {
	// GroupStart wraps each statement written for several requests at once
	// (tracing links it to each request's span).
	GroupStart GroupStart
	// Gate bounds each tenant's concurrent statements; the write queues
	// take a slot around each statement they write. nil admits everything.
	Gate *tenantgate.Gate
	// Changed, if set, is told the tenant after every write that logged
	// changes (the change log's triggers) has committed: the change hub
	// wakes watchers with it.
	Changed func(tenantID string)
}

// NewStore returns a store over pool.
func NewStore(pool *pgxpool.Pool, opts StoreOptions) *Store {
	changed := opts.Changed
	if changed == nil {
		changed = func(string) {}
	}
	return &Store{pool: pool, gate: opts.Gate, changed: changed,
		creates: newWriteQueues(pool, opts.GroupStart, opts.Gate, insertOperations, changed),
		items:   newWriteQueues(pool, opts.GroupStart, opts.Gate, upsertItems, nil)}
}

// Close refuses new creates and waits for the write queues to drain, so
// every create already accepted is answered before the pool closes.
func (s *Store) Close() {
	s.creates.close()
	s.items.close()
}

// visibleConnection is the scope filter every query on connections starts
// with: $1 tenant, $2 owned-only, $3 owner app. An owned-only scope without an
// app sees nothing, rather than every connection created without one.
const visibleConnection = `c.tenant_id = $1
  AND (NOT $2 OR ($3 <> '' AND (c.created_by_app = $3 OR $3 = ANY (c.authorized_app_ids))))`

// visibleConnectionUID is the uid of connection $4's current incarnation
// when the caller may see it, else NULL. Statements compare connection_uid
// with it rather than join connections: as a scalar subquery it becomes a
// parameter of the index condition on (tenant_id, connection_uid, id), where
// a join (or a CTE) let generic plans leave connection_uid out and walk
// every item of the tenant: a list's first page took 15 ms at 10,000 items
// and a 26-item upsert 10 ms in its duplicate check.
const visibleConnectionUID = `(SELECT c.uid FROM connections c WHERE ` + visibleConnection + ` AND c.id = $4)`

func scopeArgs(s connections.Scope, more ...any) []any {
	return append([]any{s.TenantID, s.OwnedOnly, s.OwnerApp}, more...)
}

const connectionColumns = `c.id, c.name, coalesce(c.description, ''), c.state::text,
  c.authorized_app_ids, c.created_by_app, coalesce(c.connector_id, ''), c.activity_settings, c.search_settings,
  c.version, c.created_at, c.updated_at`

func scanConnection(row pgx.Row) (connections.Connection, error) {
	var c connections.Connection
	var activity, search []byte
	err := row.Scan(&c.ID, &c.Name, &c.Description, &c.State, &c.AuthorizedAppIDs, &c.CreatedByApp,
		&c.ConnectorID, &activity, &search, &c.Version, &c.CreatedAt, &c.UpdatedAt)
	if err != nil {
		return c, err
	}
	if c.ActivitySettings, err = decodeActivitySettings(activity); err != nil {
		return c, err
	}
	c.SearchSettings, err = decodeSearchSettings(search)
	return c, err
}

// settingsArgs are a connection's settings as jsonb parameters.
func settingsArgs(c connections.Connection) (activity, search *string, err error) {
	if activity, err = encodeActivitySettings(c.ActivitySettings); err != nil {
		return nil, nil, err
	}
	search, err = encodeSearchSettings(c.SearchSettings)
	return activity, search, err
}

func connectionColumn(string) (string, string) { return "c.id", "" }

const insertConnectionSQL = `
INSERT INTO connections AS c (tenant_id, id, name, description, state, authorized_app_ids, created_by_app,
  connector_id, activity_settings, search_settings)
VALUES ($1, $2, $3, nullif($4, ''), $5::connection_state, $6, $7, nullif($8, ''), $9::jsonb, $10::jsonb)
RETURNING ` + connectionColumns

// lockTenantSQL serializes connection creates within a tenant so the quota
// check and the insert cannot interleave with another create's.
const lockTenantSQL = `SELECT pg_advisory_xact_lock(hashtextextended('connops.connections:' || $1, 0))`

const countTenantConnectionsSQL = `SELECT count(*) FROM connections WHERE tenant_id = $1`

// CreateConnection inserts a connection in the scope's tenant, within the
// tenant's quota.
func (s *Store) CreateConnection(ctx context.Context, scope connections.Scope, c connections.Connection, maxPerTenant int, idem *connections.Idempotency) (connections.Connection, bool, error) {
	snap, replayed, err := inTx(ctx, s.pool, scope.TenantID, idem, func(tx pgx.Tx) (connectionSnapshot, error) {
		if _, err := tx.Exec(ctx, lockTenantSQL, scope.TenantID); err != nil {
			return connectionSnapshot{}, err
		}
		var n int
		if err := tx.QueryRow(ctx, countTenantConnectionsSQL, scope.TenantID).Scan(&n); err != nil {
			return connectionSnapshot{}, err
		}
		if n >= maxPerTenant {
			return connectionSnapshot{}, connections.ErrLimitExceeded
		}
		activity, search, err := settingsArgs(c)
		if err != nil {
			return connectionSnapshot{}, err
		}
		created, err := scanConnection(tx.QueryRow(ctx, insertConnectionSQL, scope.TenantID, c.ID, c.Name, c.Description,
			string(c.State), nonNil(c.AuthorizedAppIDs), c.CreatedByApp, c.ConnectorID, activity, search))
		return connectionSnapshotOf(created), err
	})
	if err != nil {
		return connections.Connection{}, false, fmt.Errorf("insert connection %s: %w", c.ID, domainError(err))
	}
	s.changed(scope.TenantID)
	return snap.connection(), replayed, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
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

const countConnectionsSQL = `SELECT count(*) FROM connections c WHERE ` + visibleConnection

// ListConnections reads one page of the connections in scope, by id.
func (s *Store) ListConnections(ctx context.Context, scope connections.Scope, lq connections.ListQuery) (connections.Page[connections.Connection], error) {
	q := &query{args: scopeArgs(scope)}
	q.sql.WriteString(`SELECT ` + connectionColumns + ` FROM connections c WHERE ` + visibleConnection)
	q.writePage(lq, connectionColumn)
	page, err := selectPage(ctx, s.pool, q, lq,
		func(r pgx.CollectableRow) (connections.Connection, error) { return scanConnection(r) },
		func(c connections.Connection, _ string) string { return c.ID })
	if err != nil {
		return page, fmt.Errorf("select connections: %w", err)
	}
	if lq.Count {
		var n int64
		if err := s.pool.QueryRow(ctx, countConnectionsSQL, scopeArgs(scope)...).Scan(&n); err != nil {
			return page, fmt.Errorf("count connections: %w", domainError(err))
		}
		page.Count = &n
	}
	return page, nil
}

// NO KEY UPDATE: a PATCH changes no key, so it need not wait for creates
// holding key-share locks on the connection through their foreign key.
const lockConnectionSQL = `SELECT ` + connectionColumns + ` FROM connections c WHERE ` + visibleConnection + ` AND c.id = $4 FOR NO KEY UPDATE`

const updateConnectionSQL = `
UPDATE connections SET name = $3, description = nullif($4, ''), authorized_app_ids = $5,
  activity_settings = $6::jsonb, search_settings = $7::jsonb, version = version + 1, updated_at = now()
WHERE tenant_id = $1 AND id = $2
RETURNING version, updated_at`

// UpdateConnection locks the row, lets change decide, and writes the result.
func (s *Store) UpdateConnection(ctx context.Context, scope connections.Scope, id string, change func(*connections.Connection) error) (connections.Connection, error) {
	var c connections.Connection
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if c, err = scanConnection(tx.QueryRow(ctx, lockConnectionSQL, scopeArgs(scope, id)...)); err != nil {
			return domainError(err)
		}
		if err := change(&c); err != nil {
			return err
		}
		activity, search, err := settingsArgs(c)
		if err != nil {
			return err
		}
		return tx.QueryRow(ctx, updateConnectionSQL, scope.TenantID, id, c.Name, c.Description, nonNil(c.AuthorizedAppIDs),
			activity, search).Scan(&c.Version, &c.UpdatedAt)
	})
	if err != nil {
		return connections.Connection{}, fmt.Errorf("update connection %s: %w", id, domainError(err))
	}
	s.changed(scope.TenantID)
	return c, nil
}

// lockCountsSQL takes the connection's count row first, the lock every
// create on the connection takes first too. Deleting the connection row
// straight away would lock in the opposite order (connection, then the
// count row through the cascade) and deadlock with creates in flight.
const lockCountsSQL = `SELECT 1 FROM connection_counts WHERE tenant_id = $1 AND connection_id = $2 FOR UPDATE`

const deleteConnectionSQL = `DELETE FROM connections c WHERE ` + visibleConnection + ` AND c.id = $4 RETURNING c.uid`

// forgetConnectionSQL leaves the connection's items and groups to the purge
// job: they hang off its uid without a foreign key, so the delete itself
// stays one quick statement however many items there are.
const forgetConnectionSQL = `INSERT INTO deleted_connections (tenant_id, connection_uid) VALUES ($1, $2)`

// DeleteConnection deletes a connection; the foreign keys cascade to its
// operations, schemas, work and count in the same statement, and its items
// and groups are purged in batches afterwards (Purge).
func (s *Store) DeleteConnection(ctx context.Context, scope connections.Scope, id string) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, lockCountsSQL, scope.TenantID, id); err != nil {
			return err
		}
		var uid int64
		if err := tx.QueryRow(ctx, deleteConnectionSQL, scopeArgs(scope, id)...).Scan(&uid); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, forgetConnectionSQL, scope.TenantID, uid)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete connection %s: %w", id, domainError(err))
	}
	s.changed(scope.TenantID)
	return nil
}
