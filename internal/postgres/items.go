package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connops/connops/internal/connections"
)

// itemsInScope is the items of connection $4 under the caller's scope: every
// read applies it, and never sees the items of a deleted connection of the
// same id.
const itemsInScope = `FROM items i WHERE i.tenant_id = $1 AND i.connection_uid = ` + visibleConnectionUID

const activeSchemaSQL = `
SELECT c.state::text, coalesce(c.active_schema_version, 0), sv.schema FROM connections c
LEFT JOIN schema_versions sv ON sv.tenant_id = c.tenant_id AND sv.connection_id = c.id AND sv.version = c.active_schema_version
WHERE ` + visibleConnection + ` AND c.id = $4`

// ActiveSchema reads the schema items of a connection are checked against.
func (s *Store) ActiveSchema(ctx context.Context, scope connections.Scope, connectionID string) (connections.ActiveSchema, error) {
	var a connections.ActiveSchema
	var doc []byte
	if err := s.pool.QueryRow(ctx, activeSchemaSQL, scopeArgs(scope, connectionID)...).Scan(&a.State, &a.Version, &doc); err != nil {
		return a, fmt.Errorf("select active schema of %s: %w", connectionID, domainError(err))
	}
	if doc != nil {
		var err error
		if a.Schema, err = decodeSchema(doc); err != nil {
			return a, err
		}
	}
	return a, nil
}

// itemWrite is one PUT as the write queue carries it.
type itemWrite struct {
	id, properties, acl string
	contentType         *string
	content             *string
	schemaVersion       int
	maxItems            int64
}

type aclDoc struct {
	Type           string `json:"type"`
	Value          string `json:"value"`
	AccessType     string `json:"accessType"`
	IdentitySource string `json:"identitySource,omitempty"`
}

func itemWriteOf(item connections.Item, schemaVersion int, maxItems int64) (itemWrite, error) {
	props, err := encodeProperties(item.Properties)
	if err != nil {
		return itemWrite{}, fmt.Errorf("encode item properties: %w", err)
	}
	acl := make([]aclDoc, len(item.ACL))
	for i, e := range item.ACL {
		acl[i] = aclDoc(e)
	}
	aclJSON, err := json.Marshal(acl)
	if err != nil {
		return itemWrite{}, fmt.Errorf("encode item acl: %w", err)
	}
	w := itemWrite{id: item.ID, properties: string(props), acl: string(aclJSON), schemaVersion: schemaVersion, maxItems: maxItems}
	if item.Content != nil {
		w.contentType, w.content = &item.Content.Type, &item.Content.Value
	}
	return w, nil
}

// encodeProperties writes an item's properties as one JSON object. The
// values are canonical JSON already (the domain checked and compacted
// them), so they are copied as they are rather than checked again by
// json.Marshal; PostgreSQL parses the whole as jsonb in any case.
func encodeProperties(props map[string]json.RawMessage) ([]byte, error) {
	size := 2
	for k, v := range props {
		size += len(k) + len(v) + 4
	}
	out := make([]byte, 0, size)
	out = append(out, '{')
	for k, v := range props {
		if len(v) == 0 {
			return nil, fmt.Errorf("property %q has no value", k)
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		key, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		out = append(append(append(out, key...), ':'), v...)
	}
	return append(out, '}'), nil
}

// PutItem creates or replaces an item through the connection's write queue.
func (s *Store) PutItem(ctx context.Context, scope connections.Scope, connectionID string, item connections.Item, schemaVersion int, maxItems int64) (bool, error) {
	w, err := itemWriteOf(item, schemaVersion, maxItems)
	if err != nil {
		return false, err
	}
	return s.items.submit(ctx, queueKey{scope: scope, connection: connectionID}, w)
}

// upsertItemsSQL writes 1..N items of one connection, within its quota and
// only while $10 is its active schema version, and reports on each input
// row: whether the connection is visible, whether the schema held, and
// whether the row went in (and as a new item). Within a group the last
// write of an id is the one stored, as if the PUTs had come one by one.
// Replacing an item never counts against the quota; a refused new item
// marks a ready connection limitExceeded.
const upsertItemsSQL = `
WITH target AS (
  SELECT c.uid, coalesce(c.active_schema_version, 0) AS sv, oc.items AS n FROM connections c
  JOIN connection_counts oc ON oc.tenant_id = c.tenant_id AND oc.connection_id = c.id
  WHERE ` + visibleConnection + ` AND c.id = $4
), input AS (
  SELECT * FROM unnest($5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
    WITH ORDINALITY AS t(id, properties, acl, content_type, content, ord)
), last AS (
  SELECT DISTINCT ON (i.id) i.* FROM input i ORDER BY i.id, i.ord DESC
), known AS (
  -- Whether an item is stored matters only when the group's new items could
  -- pass the quota; below it (nearly always) CASE skips the probes, one
  -- index lookup per item. (They once ran on items_updated_idx too, until
  -- migration 00013 made it partial.)
  SELECT l.id, l.ord, CASE WHEN coalesce((SELECT n FROM target) + (SELECT count(*) FROM last) <= $11, false) THEN false
    ELSE (SELECT 1 FROM items x WHERE x.tenant_id = $1 AND x.connection_uid = (SELECT uid FROM target) AND x.id = l.id LIMIT 1) IS NOT NULL
  END AS stored
  FROM last l
), admitted AS (
  SELECT k.id FROM (SELECT k.*, row_number() OVER (PARTITION BY k.stored ORDER BY k.ord) AS rank FROM known k) k, target t
  WHERE t.sv = $10 AND (k.stored OR t.n + k.rank <= $11)
), up AS (
  INSERT INTO items AS i (tenant_id, connection_uid, id, properties, acl, content_type, content)
  SELECT $1, t.uid, l.id, l.properties::jsonb, l.acl::jsonb, l.content_type, l.content
  FROM last l JOIN admitted a ON a.id = l.id CROSS JOIN target t ORDER BY l.id
  ON CONFLICT (tenant_id, connection_uid, id) DO UPDATE SET properties = EXCLUDED.properties, acl = EXCLUDED.acl,
    content_type = EXCLUDED.content_type, content = EXCLUDED.content, version = i.version + 1, updated_at = now()
  RETURNING i.id, (xmax = 0) AS inserted
), counted AS (
  UPDATE connection_counts oc SET items = oc.items + (SELECT count(*) FROM up WHERE inserted)
  WHERE oc.tenant_id = $1 AND oc.connection_id = $4 AND EXISTS (SELECT 1 FROM up WHERE inserted)
), limited AS (
  UPDATE connections c SET state = 'limitExceeded', version = c.version + 1, updated_at = now()
  WHERE c.tenant_id = $1 AND c.id = $4 AND c.state = 'ready'
    AND EXISTS (SELECT 1 FROM known k CROSS JOIN target t WHERE t.sv = $10 AND NOT k.stored AND k.id NOT IN (SELECT id FROM admitted))
)
SELECT EXISTS (SELECT 1 FROM target), coalesce((SELECT sv FROM target), 0) = $10, a.id IS NOT NULL, coalesce(up.inserted, false)
FROM input i LEFT JOIN admitted a ON a.id = i.id LEFT JOIN up ON up.id = i.id
ORDER BY i.ord`

// upsertItems writes one group of PUTs for one connection: the count-row
// lock and the upsert, pipelined in one round trip.
func upsertItems(ctx context.Context, db batchSender, key queueKey, group []itemWrite) ([]result[bool], error) {
	n := len(group)
	ids, props, acls := make([]string, n), make([]string, n), make([]string, n)
	types, contents := make([]*string, n), make([]*string, n)
	for i, w := range group {
		ids[i], props[i], acls[i], types[i], contents[i] = w.id, w.properties, w.acl, w.contentType, w.content
	}
	b := &pgx.Batch{}
	b.Queue(settleWriteSQL)
	b.Queue(lockCountSQL, scopeArgs(key.scope, key.connection)...)
	b.Queue(upsertItemsSQL, scopeArgs(key.scope, key.connection, ids, props, acls, types, contents, group[0].schemaVersion, group[0].maxItems)...)
	br := db.SendBatch(ctx, b)
	defer br.Close()
	for range 2 {
		if _, err := br.Exec(); err != nil {
			return nil, err
		}
	}
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	results := make([]result[bool], 0, n)
	for rows.Next() {
		w := group[len(results)]
		var visible, schemaHeld, admitted, inserted bool
		if err := rows.Scan(&visible, &schemaHeld, &admitted, &inserted); err != nil {
			return nil, err
		}
		fail := func(kind error) result[bool] {
			return result[bool]{err: fmt.Errorf("put item %s/%s: %w", key.connection, w.id, kind)}
		}
		switch {
		case !visible:
			results = append(results, fail(connections.ErrNotFound))
		case !schemaHeld:
			results = append(results, fail(connections.ErrSchemaChanged))
		case !admitted:
			results = append(results, fail(connections.ErrQuotaExceeded))
		default:
			results = append(results, result[bool]{out: inserted})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(results) != n {
		return nil, fmt.Errorf("upsert answered %d of %d rows", len(results), n)
	}
	rows.Close()
	return results, br.Close()
}

const itemColumns = `i.id, i.properties, i.acl, i.content_type, i.content, i.version, i.created_at, i.updated_at`

func scanItem(row pgx.Row) (connections.Item, error) {
	var it connections.Item
	var props, acl []byte
	var ctype, content *string
	if err := row.Scan(&it.ID, &props, &acl, &ctype, &content, &it.Version, &it.CreatedAt, &it.UpdatedAt); err != nil {
		return it, err
	}
	return it, decodeItem(&it, props, acl, ctype, content)
}

func decodeItem(it *connections.Item, props, acl []byte, ctype, content *string) error {
	if props != nil {
		if err := json.Unmarshal(props, &it.Properties); err != nil {
			return fmt.Errorf("decode item properties: %w", err)
		}
	}
	if acl != nil {
		var docs []aclDoc
		if err := json.Unmarshal(acl, &docs); err != nil {
			return fmt.Errorf("decode item acl: %w", err)
		}
		for _, d := range docs {
			it.ACL = append(it.ACL, connections.ACLEntry(d))
		}
	}
	if ctype != nil {
		it.Content = &connections.ItemContent{Type: *ctype}
		if content != nil {
			it.Content.Value = *content
		}
	}
	return nil
}

const getItemSQL = `SELECT ` + itemColumns + ` ` + itemsInScope + ` AND i.id = $5`

// GetItem reads one item.
func (s *Store) GetItem(ctx context.Context, scope connections.Scope, connectionID, id string) (connections.Item, error) {
	it, err := scanItem(s.pool.QueryRow(ctx, getItemSQL, scopeArgs(scope, connectionID, id)...))
	if err != nil {
		return connections.Item{}, fmt.Errorf("select item %s/%s: %w", connectionID, id, domainError(err))
	}
	return it, nil
}

const lockItemSQL = `SELECT ` + itemColumns + `,
  coalesce((SELECT c.active_schema_version FROM connections c WHERE c.tenant_id = $1 AND c.uid = i.connection_uid), 0)
` + itemsInScope + ` AND i.id = $5 FOR UPDATE OF i`

const updateItemSQL = `
UPDATE items SET properties = $4::jsonb, acl = $5::jsonb, content_type = $6, content = $7, version = version + 1, updated_at = now()
WHERE tenant_id = $1 AND connection_uid = (SELECT uid FROM connections WHERE tenant_id = $1 AND id = $2) AND id = $3
RETURNING version, updated_at`

// UpdateItem locks the item, lets change decide, and writes the result,
// as long as schemaVersion is still the active schema.
func (s *Store) UpdateItem(ctx context.Context, scope connections.Scope, connectionID, id string, schemaVersion int,
	change func(*connections.Item) error) (connections.Item, error) {
	var it connections.Item
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var props, acl []byte
		var ctype, content *string
		var active int
		err := tx.QueryRow(ctx, lockItemSQL, scopeArgs(scope, connectionID, id)...).
			Scan(&it.ID, &props, &acl, &ctype, &content, &it.Version, &it.CreatedAt, &it.UpdatedAt, &active)
		if err != nil {
			return err
		}
		if active != schemaVersion {
			return connections.ErrSchemaChanged
		}
		if err := decodeItem(&it, props, acl, ctype, content); err != nil {
			return err
		}
		if it.Properties == nil {
			it.Properties = map[string]json.RawMessage{}
		}
		if err := change(&it); err != nil {
			return err
		}
		w, err := itemWriteOf(it, schemaVersion, 0)
		if err != nil {
			return err
		}
		return tx.QueryRow(ctx, updateItemSQL, scope.TenantID, connectionID, id, w.properties, w.acl, w.contentType, w.content).
			Scan(&it.Version, &it.UpdatedAt)
	})
	if err != nil {
		return connections.Item{}, fmt.Errorf("update item %s/%s: %w", connectionID, id, domainError(err))
	}
	return it, nil
}

// deleteItemSQL deletes and uncounts an item; a connection held at its
// quota becomes ready again once an item goes.
const deleteItemSQL = `
WITH gone AS (
  DELETE ` + itemsInScope + ` AND i.id = $5 RETURNING 1
), counted AS (
  UPDATE connection_counts oc SET items = oc.items - 1
  WHERE oc.tenant_id = $1 AND oc.connection_id = $4 AND EXISTS (SELECT 1 FROM gone)
  RETURNING oc.items
), freed AS (
  UPDATE connections c SET state = 'ready', version = c.version + 1, updated_at = now()
  WHERE c.tenant_id = $1 AND c.id = $4 AND c.state = 'limitExceeded' AND (SELECT items FROM counted) < $6
)
SELECT count(*) FROM gone`

// DeleteItem deletes one item, under the connection's count-row lock.
func (s *Store) DeleteItem(ctx context.Context, scope connections.Scope, connectionID, id string, maxItems int64) error {
	b := &pgx.Batch{}
	b.Queue(settleWriteSQL)
	b.Queue(lockCountSQL, scopeArgs(scope, connectionID)...)
	b.Queue(deleteItemSQL, scopeArgs(scope, connectionID, id, maxItems)...)
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	var n int
	_, err := br.Exec()
	if err == nil {
		_, err = br.Exec()
	}
	if err == nil {
		err = br.QueryRow().Scan(&n)
	}
	if err == nil {
		err = br.Close()
	}
	if err != nil {
		return fmt.Errorf("delete item %s/%s: %w", connectionID, id, domainError(err))
	}
	if n == 0 {
		return fmt.Errorf("delete item %s/%s: %w", connectionID, id, connections.ErrNotFound)
	}
	return nil
}

const itemsUsedSQL = `
SELECT oc.items FROM connections c JOIN connection_counts oc ON oc.tenant_id = c.tenant_id AND oc.connection_id = c.id
WHERE ` + visibleConnection + ` AND c.id = $4`

// ItemsUsed is how many items the connection holds.
func (s *Store) ItemsUsed(ctx context.Context, scope connections.Scope, connectionID string) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, itemsUsedSQL, scopeArgs(scope, connectionID)...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count items of %s: %w", connectionID, domainError(err))
	}
	return n, nil
}

// addActivitiesSQL records activities on an item in scope and says
// whether the item exists.
const addActivitiesSQL = `
WITH target AS (
  SELECT i.tenant_id, i.connection_uid, i.id ` + itemsInScope + ` AND i.id = $5
), ins AS (
  INSERT INTO item_activities (tenant_id, connection_uid, item_id, type, start_at, performed_by)
  SELECT t.tenant_id, t.connection_uid, t.id, a.type, a.start_at, a.performed_by::jsonb
  FROM target t CROSS JOIN unnest($6::text[], $7::timestamptz[], $8::text[]) AS a(type, start_at, performed_by)
  RETURNING 1
)
SELECT (SELECT count(*) FROM target), (SELECT count(*) FROM ins)`

type identityDoc struct {
	ID             string `json:"id"`
	Type           string `json:"type"`
	IdentitySource string `json:"identitySource,omitempty"`
}

// AddActivities records activities on an item.
func (s *Store) AddActivities(ctx context.Context, scope connections.Scope, connectionID, itemID string, activities []connections.Activity) error {
	types, starts, by := make([]string, len(activities)), make([]time.Time, len(activities)), make([]string, len(activities))
	for i, a := range activities {
		b, err := json.Marshal(identityDoc(a.PerformedBy))
		if err != nil {
			return fmt.Errorf("encode activity: %w", err)
		}
		types[i], starts[i], by[i] = a.Type, a.Start, string(b)
	}
	var found, inserted int
	if err := s.pool.QueryRow(ctx, addActivitiesSQL, scopeArgs(scope, connectionID, itemID, types, starts, by)...).Scan(&found, &inserted); err != nil {
		return fmt.Errorf("add activities to %s/%s: %w", connectionID, itemID, domainError(err))
	}
	if found == 0 {
		return fmt.Errorf("add activities to %s/%s: %w", connectionID, itemID, connections.ErrNotFound)
	}
	return nil
}
