package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/connops/connops/internal/connections"
)

// itemColumn maps a filterable item property to its column.
func itemColumn(string) (string, string) { return "i.id", "" }

// ListItems reads one page of a connection's items by id, cut at lq.Top or
// at lq.MaxBytes of the items' stored sizes (an item may hold megabytes of
// content), reading only the selected columns.
func (s *Store) ListItems(ctx context.Context, scope connections.Scope, connectionID string, lq connections.ListQuery) (connections.Page[connections.Item], error) {
	q := &query{args: scopeArgs(scope, connectionID)}
	q.sql.WriteString(`WITH page AS (SELECT i.tenant_id, i.connection_uid, i.id, octet_length(i.id) + 64 + i.size_bytes AS size ` + itemsInScope)
	if lq.Filter != nil {
		q.sql.WriteString(" AND ")
		q.writeFilterWith(lq.Filter, itemColumn)
	}
	q.writePage(lq, itemColumn)
	q.sql.WriteString(`), sized AS (SELECT p.*, sum(size) OVER (ORDER BY p.id ROWS UNBOUNDED PRECEDING) - size AS before,
  count(*) OVER () AS fetched FROM page p)
SELECT i.id, `)
	for _, col := range []struct{ field, sql string }{
		{"properties", "i.properties"}, {"acl", "i.acl"}, {"content", "i.content_type, i.content"},
	} {
		if lq.Selects(col.field) {
			q.sql.WriteString(col.sql + ", ")
		} else if col.field == "content" {
			q.sql.WriteString("NULL, NULL, ")
		} else {
			q.sql.WriteString("NULL::jsonb, ")
		}
	}
	q.sql.WriteString(`i.version, i.created_at, i.updated_at, s.fetched FROM sized s
JOIN items i ON i.tenant_id = s.tenant_id AND i.connection_uid = s.connection_uid AND i.id = s.id
WHERE s.before < ` + q.bind(lq.MaxBytes) + ` ORDER BY i.id`)
	var page connections.Page[connections.Item]
	var fetched int
	rows, err := s.pool.Query(ctx, q.sql.String(), q.args...)
	if err != nil {
		return page, fmt.Errorf("select items: %w", domainError(err))
	}
	page.Items, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (connections.Item, error) {
		var it connections.Item
		var props, acl []byte
		var ctype, content *string
		if err := r.Scan(&it.ID, &props, &acl, &ctype, &content, &it.Version, &it.CreatedAt, &it.UpdatedAt, &fetched); err != nil {
			return it, err
		}
		return it, decodeItem(&it, props, acl, ctype, content)
	})
	if err != nil {
		return page, fmt.Errorf("select items: %w", domainError(err))
	}
	if fetched > len(page.Items) || len(page.Items) > lq.Top {
		page.Items = page.Items[:min(len(page.Items), lq.Top)]
		page.Next = connections.Cursor{page.Items[len(page.Items)-1].ID}
	}
	if len(page.Items) == 0 || lq.Count {
		n, err := s.CountItems(ctx, scope, connectionID, lq.Filter)
		if err != nil {
			return page, err
		}
		if lq.Count {
			page.Count = &n
		}
	}
	return page, nil
}

// CountItems counts a connection's items matching f; with no filter it is
// the counter the quota keeps, not a scan. A connection out of scope is
// ErrNotFound.
func (s *Store) CountItems(ctx context.Context, scope connections.Scope, connectionID string, f connections.Filter) (int64, error) {
	if f == nil {
		return s.ItemsUsed(ctx, scope, connectionID)
	}
	q := &query{args: scopeArgs(scope, connectionID)}
	q.sql.WriteString(`SELECT (SELECT count(*) FROM items i WHERE i.tenant_id = c.tenant_id AND i.connection_uid = c.uid AND `)
	q.writeFilterWith(f, itemColumn)
	q.sql.WriteString(`) FROM connections c WHERE ` + visibleConnection + ` AND c.id = $4`)
	var n int64
	if err := s.pool.QueryRow(ctx, q.sql.String(), q.args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count items of %s: %w", connectionID, domainError(err))
	}
	return n, nil
}
