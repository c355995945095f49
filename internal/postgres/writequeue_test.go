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

// TestQueuedCreatesAnswerEachRequest fires many creates at once, mixing
// ones that must succeed with duplicates (within the burst and against
// existing rows), missing connections, another tenant's connection and an
// owned-by scope, and checks every request gets its own right answer while
// the inserts share commits.
func TestQueuedCreatesAnswerEachRequest(t *testing.T) {
	pool := pgtest.New(t)
	store := postgres.NewStore(pool, postgres.StoreOptions{})
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

// createCase is a run of creates on one connection in one scope, with the
// outcome each must have, whether they are written one by one or together.
type createCase struct {
	name   string
	setup  string // SQL run first
	scope  connections.Scope
	conn   string
	cap    int64
	ids    []string
	want   []error // nil: created
	stored int     // operations on conna afterwards
}

var (
	t1      = connections.Scope{TenantID: "t1"}
	ownedA1 = connections.Scope{TenantID: "t1", OwnedOnly: true, OwnerApp: "app1"}
	ownedA2 = connections.Scope{TenantID: "t1", OwnedOnly: true, OwnerApp: "app2"}
)

// storedA stores operation a on conna, counted as the store counts it.
const storedA = `INSERT INTO operations (tenant_id, connection_id, id) VALUES ('t1','conna','a');
	UPDATE connection_counts SET operations = 1 WHERE connection_id = 'conna'`

var createCases = []createCase{
	{name: "duplicate inside the run does not use up the cap", scope: t1, conn: "conna", cap: 2,
		ids: []string{"x", "x", "y"}, want: []error{nil, connections.ErrAlreadyExists, nil}, stored: 2},
	{name: "cap counts stored rows", setup: storedA,
		scope: t1, conn: "conna", cap: 2, ids: []string{"x", "y"}, want: []error{nil, connections.ErrLimitExceeded}, stored: 2},
	{name: "duplicate of a stored row", setup: storedA,
		scope: t1, conn: "conna", cap: 10, ids: []string{"a", "b", "a"},
		want: []error{connections.ErrAlreadyExists, nil, connections.ErrAlreadyExists}, stored: 2},
	{name: "full connection", setup: storedA,
		scope: t1, conn: "conna", cap: 1, ids: []string{"x", "a"},
		want: []error{connections.ErrLimitExceeded, connections.ErrAlreadyExists}, stored: 1},
	{name: "another tenant's connection", scope: t1, conn: "connc", cap: 10, ids: []string{"x", "y"},
		want: []error{connections.ErrNotFound, connections.ErrNotFound}},
	{name: "owned by its creator", scope: ownedA1, conn: "conna", cap: 10, ids: []string{"x"}, want: []error{nil}, stored: 1},
	{name: "owned by another app", scope: ownedA2, conn: "conna", cap: 10, ids: []string{"x", "y"},
		want: []error{connections.ErrNotFound, connections.ErrNotFound}},
	{name: "authorized app", setup: `UPDATE connections SET authorized_app_ids = '{app2}' WHERE id = 'conna'`,
		scope: ownedA2, conn: "conna", cap: 10, ids: []string{"x"}, want: []error{nil}, stored: 1},
	{name: "connection deleted meanwhile", setup: `DELETE FROM connections WHERE id = 'conna'`,
		scope: t1, conn: "conna", cap: 10, ids: []string{"x", "y"},
		want: []error{connections.ErrNotFound, connections.ErrNotFound}},
}

// TestCreateOutcomes runs every case through lone creates and through one
// grouped statement, and expects the same outcome from both.
func TestCreateOutcomes(t *testing.T) {
	for _, mode := range []string{"lone", "grouped"} {
		for _, c := range createCases {
			t.Run(mode+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				pool := pgtest.New(t)
				store := postgres.NewStore(pool, postgres.StoreOptions{})
				mustExec(t, pool, `INSERT INTO connections (tenant_id, id, name, created_by_app) VALUES
					('t1', 'conna', 'a', 'app1'), ('t2', 'connc', 'c', 'app3')`)
				if c.setup != "" {
					mustExec(t, pool, c.setup)
				}
				ops := make([]connections.Operation, len(c.ids))
				for i, id := range c.ids {
					ops[i] = connections.Operation{ConnectionID: c.conn, ID: id, Status: connections.StatusInProgress}
				}
				errs := make([]error, len(ops))
				if mode == "lone" {
					for i, op := range ops {
						_, _, errs[i] = store.CreateOperation(ctx, c.scope, op, c.cap, nil)
					}
				} else {
					var err error
					if _, errs, err = store.InsertGroup(ctx, c.scope, c.conn, ops, c.cap); err != nil {
						t.Fatal(err)
					}
				}
				for i, want := range c.want {
					if (want == nil) != (errs[i] == nil) || (want != nil && !errors.Is(errs[i], want)) {
						t.Errorf("create %d (%s): err = %v, want %v", i, c.ids[i], errs[i], want)
					}
				}
				var stored, counted int
				if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM operations WHERE connection_id = 'conna'),
					coalesce((SELECT operations FROM connection_counts WHERE connection_id = 'conna'), 0)`).Scan(&stored, &counted); err != nil {
					t.Fatal(err)
				}
				if stored != c.stored || counted != c.stored {
					t.Errorf("conna holds %d operations, counted %d; want %d", stored, counted, c.stored)
				}
			})
		}
	}
}

func TestQueuedCreateHonoursCancelledCallers(t *testing.T) {
	pool := pgtest.New(t)
	store := postgres.NewStore(pool, postgres.StoreOptions{})
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
