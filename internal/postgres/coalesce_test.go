package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/connops/connops/internal/connections"
	"github.com/connops/connops/internal/pgtest"
	"github.com/connops/connops/internal/postgres"
)

func mustExec(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatal(err)
	}
}

// insertingTransactions counts the transactions that wrote the operations
// rows: each row's xmin is the id of the transaction that inserted it.
func insertingTransactions(t *testing.T, pool *pgxpool.Pool) int64 {
	t.Helper()
	var n int64
	if err := pool.QueryRow(context.Background(), `SELECT count(DISTINCT xmin::text) FROM operations WHERE id <> 'existing'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCoalescedCreatesAnswerEachRequest fires many creates at once, mixing
// ones that must succeed with duplicates (within the burst and against
// existing rows), missing connections, another tenant's connection and an
// owned-by scope, and checks every request gets its own right answer while
// the inserts share commits.
func TestCoalescedCreatesAnswerEachRequest(t *testing.T) {
	pool := pgtest.New(t)
	store := postgres.NewStore(pool)
	ctx := context.Background()
	mustExec(t, pool, `INSERT INTO connections (tenant_id, id, name, created_by_app) VALUES
		('t1', 'conna', 'a', 'app1'), ('t1', 'connb', 'b', 'app2'), ('t2', 'connc', 'c', 'app3')`)
	mustExec(t, pool, `INSERT INTO operations (tenant_id, connection_id, id) VALUES ('t1', 'conna', 'existing')`)

	full := connections.Scope{TenantID: "t1"}
	owned := connections.Scope{TenantID: "t1", OwnedOnly: true, OwnerApp: "app1"}
	type want struct {
		scope connections.Scope
		conn  string
		id    string
		err   error
	}
	var cases []want
	for i := range 200 {
		cases = append(cases, want{full, "conna", fmt.Sprintf("ok%03d", i), nil})
	}
	for range 5 {
		cases = append(cases, want{full, "conna", "existing", connections.ErrAlreadyExists})
		cases = append(cases, want{full, "nosuch", "x", connections.ErrNotFound})
		cases = append(cases, want{full, "connc", "y", connections.ErrNotFound})  // tenant t2's
		cases = append(cases, want{owned, "connb", "z", connections.ErrNotFound}) // app2's
	}
	cases = append(cases, want{owned, "conna", "ownedok", nil})

	var wg sync.WaitGroup
	errs := make([]error, len(cases))
	dupErrs := make([]error, 10)
	for i, c := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			op := connections.Operation{ConnectionID: c.conn, ID: c.id, Status: connections.StatusInProgress}
			created, _, err := store.CreateOperation(ctx, c.scope, op, 1_000_000, nil)
			if err == nil && (created.Version != 1 || created.CreatedAt.IsZero()) {
				err = fmt.Errorf("created row lacks version/time: %+v", created)
			}
			errs[i] = err
		}()
	}
	// Ten requests racing for one new id: exactly one wins.
	for i := range dupErrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, dupErrs[i] = store.CreateOperation(ctx, full, connections.Operation{ConnectionID: "conna", ID: "contested", Status: connections.StatusCompleted}, 1_000_000, nil)
		}()
	}
	wg.Wait()
	used := insertingTransactions(t, pool)

	for i, c := range cases {
		if (c.err == nil) != (errs[i] == nil) || (c.err != nil && !errors.Is(errs[i], c.err)) {
			t.Errorf("%s/%s in %+v: err = %v, want %v", c.conn, c.id, c.scope, errs[i], c.err)
		}
	}
	wins := 0
	for _, err := range dupErrs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, connections.ErrAlreadyExists):
			t.Errorf("contested id: %v", err)
		}
	}
	if wins != 1 {
		t.Errorf("contested id created %d times, want 1", wins)
	}
	var stored int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM operations`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if want := 1 + 200 + 1 + 1; stored != want {
		t.Errorf("stored %d operations, want %d", stored, want)
	}
	t.Logf("%d rows from %d concurrent creates went in with %d transactions", stored-1, len(cases)+len(dupErrs), used)
	if used >= int64(stored-1) {
		t.Errorf("creates did not share commits: %d transactions for %d rows", used, stored-1)
	}
}

func TestCoalescedCreateHonoursCancelledCallers(t *testing.T) {
	pool := pgtest.New(t)
	store := postgres.NewStore(pool)
	mustExec(t, pool, `INSERT INTO connections (tenant_id, id, name) VALUES ('t1', 'conna', 'a')`)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := store.CreateOperation(ctx, connections.Scope{TenantID: "t1"},
		connections.Operation{ConnectionID: "conna", ID: "late", Status: connections.StatusUnspecified}, 1_000_000, nil)
	if err == nil {
		t.Fatal("a cancelled create reported success")
	}
	if !errors.Is(err, connections.ErrUnavailable) {
		t.Errorf("err = %v, want ErrUnavailable", err)
	}
}
