package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/connops/connops/internal/pgtest"
	"github.com/connops/connops/internal/postgres"
)

// statementCounter counts statements whose SQL contains a marker.
type statementCounter struct {
	marker string
	n      atomic.Int64
}

func (c *statementCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if strings.Contains(d.SQL, c.marker) {
		c.n.Add(1)
	}
	return ctx
}

func (c *statementCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// tracedPool opens a pool on a fresh migrated database whose statements are
// counted by tracer.
func tracedPool(t *testing.T, tracer pgx.QueryTracer) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.Tracer = tracer
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func execSQL(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	if _, err := pool.Exec(t.Context(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// seedOperations inserts n operations with the given status, last updated
// age ago, with ids prefix-0, prefix-1, ...
func seedOperations(t *testing.T, pool *pgxpool.Pool, prefix, status string, age time.Duration, n int) {
	t.Helper()
	execSQL(t, pool, `
INSERT INTO operations (tenant_id, connection_id, id, status, created_at, updated_at)
SELECT 'contoso', 'hrconn', $1 || '-' || g, $2::operation_status, now() - make_interval(secs => $3), now() - make_interval(secs => $3)
FROM generate_series(0, $4 - 1) g`, prefix, status, age.Seconds(), n)
}

func countWhere(t *testing.T, pool *pgxpool.Pool, sql string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(t.Context(), sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// TestRetentionPurgesOldFinishedOperationsInBatches seeds old and recent,
// finished and running operations and live and expired keys, then purges.
func TestRetentionPurgesOldFinishedOperationsInBatches(t *testing.T) {
	deletes := &statementCounter{marker: "DELETE FROM operations"}
	pool := tracedPool(t, deletes)
	execSQL(t, pool, `INSERT INTO connections (tenant_id, id, name) VALUES ('contoso', 'hrconn', 'HR')`)
	const day = 24 * time.Hour
	seedOperations(t, pool, "old-completed", "completed", 40*day, 6)
	seedOperations(t, pool, "old-failed", "failed", 35*day, 4)
	seedOperations(t, pool, "old-running", "inprogress", 40*day, 3)
	seedOperations(t, pool, "old-unspecified", "unspecified", 40*day, 2)
	seedOperations(t, pool, "recent-completed", "completed", time.Hour, 5)
	execSQL(t, pool, `
INSERT INTO idempotency_keys (tenant_id, app_id, key, fingerprint, expires_at)
SELECT 'contoso', 'app', 'expired-' || g, 'f', now() - interval '1 minute' FROM generate_series(1, 7) g
UNION ALL
SELECT 'contoso', 'app', 'live-' || g, 'f', now() + interval '1 hour' FROM generate_series(1, 2) g`)

	store := postgres.NewStore(pool, postgres.StoreOptions{})
	const batch = 3
	start := time.Now()
	p, err := store.Purge(t.Context(), 30*day, batch)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	// 10 old finished rows in batches of 3: 3+3+3+1, so four deletes.
	statements := deletes.n.Load()
	msg := fmt.Sprintf("purged operations=%d keys=%d skipped=%v delete-statements=%d (batch %d) took=%s",
		p.Operations, p.IdempotencyKeys, p.Skipped, statements, batch, took.Round(time.Millisecond))
	t.Log(msg)
	fmt.Printf("%s: %s\n", t.Name(), msg)

	if p.Skipped || p.Operations != 10 || p.IdempotencyKeys != 7 {
		t.Errorf("Purge = %+v, want 10 operations and 7 keys", p)
	}
	if statements != 4 {
		t.Errorf("%d delete statements, want 4 batches of at most %d", statements, batch)
	}
	if n := countWhere(t, pool, `SELECT count(*) FROM operations WHERE id LIKE 'old-completed%' OR id LIKE 'old-failed%'`); n != 0 {
		t.Errorf("%d old finished operations left", n)
	}
	for prefix, want := range map[string]int{"old-running": 3, "old-unspecified": 2, "recent-completed": 5} {
		if n := countWhere(t, pool, `SELECT count(*) FROM operations WHERE id LIKE '`+prefix+`%'`); n != want {
			t.Errorf("%s: %d left, want %d kept", prefix, n, want)
		}
	}
	if n := countWhere(t, pool, `SELECT count(*) FROM idempotency_keys WHERE key LIKE 'live-%'`); n != 2 {
		t.Errorf("%d live keys left, want 2", n)
	}
	if n := countWhere(t, pool, `SELECT count(*) FROM idempotency_keys WHERE key LIKE 'expired-%'`); n != 0 {
		t.Errorf("%d expired keys left, want 0", n)
	}

	again, err := store.Purge(t.Context(), 30*day, batch)
	if err != nil || again.Operations != 0 || again.IdempotencyKeys != 0 {
		t.Errorf("second Purge = %+v, %v; want nothing left to do", again, err)
	}
}

// TestRetentionRunsOnOneReplicaAtATime holds the first Purge inside its
// delete (a table lock blocks it) while a second one starts: the second must
// report Skipped, and the first must finish the work once released.
func TestRetentionRunsOnOneReplicaAtATime(t *testing.T) {
	pool := pgtest.New(t)
	execSQL(t, pool, `INSERT INTO connections (tenant_id, id, name) VALUES ('contoso', 'hrconn', 'HR')`)
	seedOperations(t, pool, "old", "completed", 40*24*time.Hour, 5)
	store := postgres.NewStore(pool, postgres.StoreOptions{})

	blocker, err := pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Rollback(context.WithoutCancel(t.Context())) //nolint:errcheck // released below
	if _, err := blocker.Exec(t.Context(), `LOCK TABLE operations IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}

	type result struct {
		p   postgres.Purged
		err error
	}
	first := make(chan result, 1)
	go func() {
		p, err := store.Purge(t.Context(), 24*time.Hour, 100)
		first <- result{p, err}
	}()
	// Wait until the first purge holds the job's advisory lock.
	deadline := time.Now().Add(30 * time.Second)
	for countWhere(t, pool, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted`) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the first Purge never took the retention lock")
		}
		time.Sleep(20 * time.Millisecond)
	}
	second, err := store.Purge(t.Context(), 24*time.Hour, 100)
	if err != nil {
		t.Fatal(err)
	}
	if err := blocker.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	var r result
	select {
	case r = <-first:
	case <-time.After(30 * time.Second):
		t.Fatal("the first Purge did not finish after the table was released")
	}
	msg := fmt.Sprintf("first=%+v (err %v) second=%+v", r.p, r.err, second)
	t.Log(msg)
	fmt.Printf("%s: %s\n", t.Name(), msg)
	if !second.Skipped || second.Operations != 0 {
		t.Errorf("second Purge = %+v, want Skipped while the first runs", second)
	}
	if r.err != nil || r.p.Skipped || r.p.Operations != 5 {
		t.Errorf("first Purge = %+v, %v; want 5 operations purged", r.p, r.err)
	}
	// The lock is released afterwards: a later round runs.
	if p, err := store.Purge(t.Context(), 24*time.Hour, 100); err != nil || p.Skipped {
		t.Errorf("Purge after both = %+v, %v; want it to run", p, err)
	}
}
