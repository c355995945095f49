package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connops/connops/internal/connections"
)

// The change log is written by triggers (migration 00010), in the
// transaction of each change; this file only reads it.

// listChangesSQL reads the changes in scope after $4, oldest first; the
// table is aliased c so the one visibility rule applies to it unchanged
// (a change carries its connection's apps). With $5 set, only that
// connection's changes and its operations'.
const listChangesSQL = `
SELECT c.id, c.connection_id, c.resource::text, c.change_type::text, c.entity, c.at FROM changes c
WHERE ` + visibleConnection + ` AND c.id > $4 AND ($5 = '' OR c.connection_id = $5)
ORDER BY c.id LIMIT $6`

// ListChanges returns up to limit changes in scope after the id after.
func (s *Store) ListChanges(ctx context.Context, scope connections.Scope, connectionID string, after int64, limit int) ([]connections.Change, error) {
	rows, err := s.pool.Query(ctx, listChangesSQL, scopeArgs(scope, after, connectionID, limit)...)
	if err != nil {
		return nil, fmt.Errorf("select changes: %w", domainError(err))
	}
	changes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (connections.Change, error) {
		var c connections.Change
		var resource string
		var entity []byte
		if err := r.Scan(&c.ID, &c.ConnectionID, &resource, &c.Type, &entity, &c.At); err != nil {
			return c, err
		}
		return c, decodeEntity(&c, resource, entity)
	})
	if err != nil {
		return nil, fmt.Errorf("select changes: %w", domainError(err))
	}
	return changes, nil
}

// operationEntity and connectionEntity are the rows as the triggers log
// them (to_jsonb of the row): column names as keys.
type operationEntity struct {
	ID        string          `json:"id"`
	Kind      string          `json:"kind"`
	Status    string          `json:"status"`
	Error     json.RawMessage `json:"error"`
	Version   int64           `json:"version"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

type connectionEntity struct {
	ID               string          `json:"id"`
	Name             string          `json:"name"`
	Description      *string         `json:"description"`
	State            string          `json:"state"`
	AuthorizedAppIDs []string        `json:"authorized_app_ids"`
	CreatedByApp     string          `json:"created_by_app"`
	ConnectorID      *string         `json:"connector_id"`
	ActivitySettings json.RawMessage `json:"activity_settings"`
	SearchSettings   json.RawMessage `json:"search_settings"`
	Version          int64           `json:"version"`
	CreatedAt        time.Time       `json:"created_at"`
	UpdatedAt        time.Time       `json:"updated_at"`
}

// jsonNull turns a JSON null (or nothing) into nil, as the column decoders
// expect for SQL NULL.
func jsonNull(b json.RawMessage) []byte {
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	return b
}

func decodeEntity(c *connections.Change, resource string, entity []byte) error {
	if resource == "operation" {
		var e operationEntity
		if err := json.Unmarshal(entity, &e); err != nil {
			return fmt.Errorf("decode logged operation: %w", err)
		}
		op := connections.Operation{ConnectionID: c.ConnectionID, ID: e.ID, Kind: connections.Kind(e.Kind),
			Status: connections.Status(e.Status), Version: e.Version, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt}
		var err error
		op.Error, err = decodeError(jsonNull(e.Error))
		c.Operation = &op
		return err
	}
	var e connectionEntity
	if err := json.Unmarshal(entity, &e); err != nil {
		return fmt.Errorf("decode logged connection: %w", err)
	}
	conn := connections.Connection{ID: e.ID, Name: e.Name, State: connections.State(e.State),
		AuthorizedAppIDs: e.AuthorizedAppIDs, CreatedByApp: e.CreatedByApp,
		Version: e.Version, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt}
	if e.Description != nil {
		conn.Description = *e.Description
	}
	if e.ConnectorID != nil {
		conn.ConnectorID = *e.ConnectorID
	}
	var err error
	if conn.ActivitySettings, err = decodeActivitySettings(jsonNull(e.ActivitySettings)); err != nil {
		return err
	}
	if conn.SearchSettings, err = decodeSearchSettings(jsonNull(e.SearchSettings)); err != nil {
		return err
	}
	c.Connection = &conn
	return nil
}

const latestChangeSQL = `SELECT coalesce(max(id), 0) FROM changes WHERE tenant_id = $1`

// LatestChange is the id of the tenant's newest committed change.
func (s *Store) LatestChange(ctx context.Context, tenantID string) (int64, error) {
	var id int64
	if err := s.pool.QueryRow(ctx, latestChangeSQL, tenantID).Scan(&id); err != nil {
		return 0, fmt.Errorf("latest change: %w", domainError(err))
	}
	return id, nil
}

const changeHorizonSQL = `SELECT coalesce((SELECT purged_through FROM change_log_horizon WHERE tenant_id = $1), 0)`

// ChangeHorizon is the highest id of the tenant's changes retention has
// removed.
func (s *Store) ChangeHorizon(ctx context.Context, tenantID string) (int64, error) {
	var id int64
	if err := s.pool.QueryRow(ctx, changeHorizonSQL, tenantID).Scan(&id); err != nil {
		return 0, fmt.Errorf("change horizon: %w", domainError(err))
	}
	return id, nil
}

// changeKeysSQL is what the replicas' change hub reads to wake watchers:
// which connections and operations of a tenant changed after $2.
const changeKeysSQL = `
SELECT id, connection_id, CASE WHEN resource = 'operation' THEN resource_id ELSE '' END
FROM changes WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3`

// ChangeKeys returns, for the change hub, up to limit changes of a tenant
// after the id after: their ids and what they changed.
func (s *Store) ChangeKeys(ctx context.Context, tenantID string, after int64, limit int) ([]connections.ChangeRef, error) {
	rows, err := s.pool.Query(ctx, changeKeysSQL, tenantID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("select change keys: %w", domainError(err))
	}
	refs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (connections.ChangeRef, error) {
		ref := connections.ChangeRef{Key: connections.ChangeKey{TenantID: tenantID}}
		err := r.Scan(&ref.ID, &ref.Key.ConnectionID, &ref.Key.OperationID)
		return ref, err
	})
	if err != nil {
		return nil, fmt.Errorf("select change keys: %w", domainError(err))
	}
	return refs, nil
}

// changedTenantsSQL names the tenants with changes logged in the last $1
// seconds by the database's clock, for the hub's safety poll (the BRIN
// index on at keeps it cheap).
const changedTenantsSQL = `SELECT DISTINCT tenant_id FROM changes WHERE at >= now() - make_interval(secs => $1)`

// ChangedTenants names the tenants with changes logged within the last
// while.
func (s *Store) ChangedTenants(ctx context.Context, within time.Duration) ([]string, error) {
	rows, err := s.pool.Query(ctx, changedTenantsSQL, within.Seconds())
	if err != nil {
		return nil, fmt.Errorf("select changed tenants: %w", domainError(err))
	}
	tenants, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("select changed tenants: %w", domainError(err))
	}
	return tenants, nil
}

// notifyChangesSQL tells every replica's hub which tenants have new
// changes. It runs after the changes commit, in a statement of its own, so
// writes never take part in PostgreSQL's commit-time NOTIFY lock.
const notifyChangesSQL = `SELECT pg_notify($1, $2)`

// Notify sends payload on channel.
func (s *Store) Notify(ctx context.Context, channel, payload string) error {
	if _, err := s.pool.Exec(ctx, notifyChangesSQL, channel, payload); err != nil {
		return fmt.Errorf("notify %s: %w", channel, domainError(err))
	}
	return nil
}
