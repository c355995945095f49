package pgtest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/connops/connops/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestNewGivesIsolatedMigratedDatabases(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, b := pgtest.New(t), pgtest.New(t)
	for name, pool := range map[string]*pgxpool.Pool{"a": a, "b": b} {
		if !tableExists(ctx, t, pool, "operations") {
			t.Fatalf("database %s: table operations missing; want migrated schema", name)
		}
	}

	const insert = `
		WITH c AS (INSERT INTO connections (tenant_id, id, name) VALUES ('t1', 'conn1', 'n'))
		INSERT INTO operations (tenant_id, connection_id, id) VALUES ('t1', 'conn1', 'op1')`
	if _, err := a.Exec(ctx, insert); err != nil {
		t.Fatalf("insert into a: %v", err)
	}
	if got := countOperations(ctx, t, a); got != 1 {
		t.Errorf("operations in a = %d, want 1", got)
	}
	if got := countOperations(ctx, t, b); got != 0 {
		t.Errorf("operations in b = %d, want 0: databases are not isolated", got)
	}
}

func TestEmptyDSNIsUnmigrated(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, pgtest.EmptyDSN(t))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass('operations') IS NOT NULL").Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Error("table operations exists in EmptyDSN database; want no schema")
	}
}

func TestClusterCanCrashAndRestart(t *testing.T) {
	t.Parallel()
	c := pgtest.Cluster(t)
	if err := c.Crash(); err != nil {
		t.Fatalf("Crash: %v", err)
	}
	if err := c.Restart(t.Context()); err != nil {
		t.Fatalf("Restart: %v", err)
	}
}

func tableExists(ctx context.Context, t *testing.T, pool *pgxpool.Pool, name string) bool {
	t.Helper()
	var exists bool
	if err := pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", name).Scan(&exists); err != nil {
		t.Fatalf("look up table %s: %v", name, err)
	}
	return exists
}

func countOperations(ctx context.Context, t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM operations").Scan(&n); err != nil {
		t.Fatalf("count operations: %v", err)
	}
	return n
}
