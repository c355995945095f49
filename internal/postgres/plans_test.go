package postgres_test

import (
	"strings"
	"testing"

	"github.com/connops/connops/internal/postgres"
)

// TestLookupsByIDUseThePrimaryKey builds the statistics that once sent
// lookups of one operation or item down the (..., updated_at) indexes:
// analyzed while every connection held one row, then one connection
// grown to thousands. A generic plan then estimates one row per
// connection for either index; with the plain updated_at index it took
// that one (smaller) and walked the large connection's rows for each
// lookup. Every lookup's generic plan must use the primary key.
func TestLookupsByIDUseThePrimaryKey(t *testing.T) {
	pool := tracedPool(t, nil)
	execSQL(t, pool, `INSERT INTO connections (tenant_id, id, name) SELECT 'contoso', 'small' || g, 'S' FROM generate_series(1, 200) g`)
	execSQL(t, pool, `INSERT INTO connections (tenant_id, id, name) VALUES ('contoso', 'big', 'Big')`)
	execSQL(t, pool, `INSERT INTO operations (tenant_id, connection_id, id) SELECT 'contoso', 'small' || g, 'op' FROM generate_series(1, 200) g`)
	execSQL(t, pool, `INSERT INTO items (tenant_id, connection_uid, id, properties, acl)
SELECT 'contoso', c.uid, 'item', '{}', '[]' FROM connections c WHERE c.id LIKE 'small%'`)
	execSQL(t, pool, `ANALYZE connections, operations, items`)
	execSQL(t, pool, `INSERT INTO operations (tenant_id, connection_id, id) SELECT 'contoso', 'big', 'op' || g FROM generate_series(1, 5000) g`)
	execSQL(t, pool, `INSERT INTO items (tenant_id, connection_uid, id, properties, acl)
SELECT 'contoso', c.uid, 'item' || g, '{}', '[]' FROM connections c, generate_series(1, 5000) g WHERE c.id = 'big'`)

	conn, err := pool.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(t.Context(), `SET plan_cache_mode = force_generic_plan`); err != nil {
		t.Fatal(err)
	}
	scope := `'contoso', false, '', 'big', 'op2500'`
	item := `'contoso', false, '', 'big', 'item2500'`
	for _, tc := range []struct {
		name, sql, args, table string
	}{
		{"get operation", postgres.GetOperationSQL, scope, "operations"},
		{"lock operation", postgres.LockOperationSQL, scope, "operations"},
		{"update operation", postgres.UpdateOperationSQL, `'contoso', 'big', 'op2500', 'completed', NULL`, "operations"},
		{"delete operation", postgres.DeleteOperationSQL, scope, "operations"},
		{"get item", postgres.GetItemSQL, item, "items"},
		{"lock item", postgres.LockItemSQL, item, "items"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := strings.ReplaceAll(tc.name, " ", "_")
			if _, err := conn.Exec(t.Context(), `PREPARE `+name+` AS `+tc.sql); err != nil {
				t.Fatal(err)
			}
			rows, err := conn.Query(t.Context(), `EXPLAIN EXECUTE `+name+`(`+tc.args+`)`)
			if err != nil {
				t.Fatal(err)
			}
			var plan strings.Builder
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err != nil {
					t.Fatal(err)
				}
				plan.WriteString(line + "\n")
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(plan.String(), tc.table+"_pkey") || strings.Contains(plan.String(), "_updated_idx") {
				t.Errorf("the generic plan does not look %s up by its primary key:\n%s", tc.table, plan.String())
			}
		})
	}
}
