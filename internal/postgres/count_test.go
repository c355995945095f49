package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/connops/connops/internal/connections"
	"github.com/connops/connops/internal/pgtest"
	"github.com/connops/connops/internal/postgres"
)

// TestOperationCountFollowsCreatesDeletesAndPurges checks the per-connection
// count the cap relies on stays equal to the real number of rows.
func TestOperationCountFollowsCreatesDeletesAndPurges(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.New(t)
	store := postgres.NewStore(pool, postgres.StoreOptions{})
	mustExec(t, pool, `INSERT INTO connections (tenant_id, id, name) VALUES ('t1', 'conna', 'a')`)
	scope := connections.Scope{TenantID: "t1"}
	for i := range 10 {
		op := connections.Operation{ConnectionID: "conna", ID: fmt.Sprintf("op%d", i), Status: connections.StatusCompleted}
		if _, _, err := store.CreateOperation(ctx, scope, op, 100, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.DeleteOperation(ctx, scope, "conna", "op0"); err != nil {
		t.Fatal(err)
	}
	mustExec(t, pool, `UPDATE operations SET updated_at = now() - interval '2 hours' WHERE id IN ('op1', 'op2', 'op3')`)
	if _, err := store.Purge(ctx, time.Hour, 2); err != nil {
		t.Fatal(err)
	}
	var counted, real int
	if err := pool.QueryRow(ctx, `SELECT operations, (SELECT count(*) FROM operations) FROM connection_counts`).Scan(&counted, &real); err != nil {
		t.Fatal(err)
	}
	if counted != 6 || real != 6 {
		t.Errorf("counted %d, stored %d, want 6 and 6", counted, real)
	}
}
