package postgres_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/connops/connops/internal/pgtest"
	"github.com/connops/connops/internal/postgres"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestReadinessAnswersFromMemory: asking costs the database nothing; only
// the timer runs checks.
func TestReadinessAnswersFromMemory(t *testing.T) {
	t.Parallel()
	r, err := postgres.StartReadiness(context.Background(), pgtest.DSN(t), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for range 10_000 {
		if err := r.Ready(); err != nil {
			t.Fatal(err)
		}
	}
	if n := r.Checks(); n != 1 {
		t.Errorf("10,000 probes ran %d checks, want only the first", n)
	}
}

func TestReadinessNeedsMigrations(t *testing.T) {
	t.Parallel()
	r, err := postgres.StartReadiness(context.Background(), pgtest.EmptyDSN(t), 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Ready(); err == nil {
		t.Fatal("an unmigrated database reads as ready")
	}
}

// TestReadinessGoesStaleWhenChecksStop: a database that stops answering
// leaves no old success standing.
func TestReadinessGoesStaleWhenChecksStop(t *testing.T) {
	t.Parallel()
	c := pgtest.Cluster(t)
	r, err := postgres.StartReadiness(context.Background(), c.DSN("postgres"), 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Ready(); err == nil {
		t.Fatalf("ready on an unmigrated database: %v", err)
	}
	if err := postgres.Migrate(context.Background(), c.DSN("postgres"), slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return r.Ready() == nil })
	if err := c.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return r.Ready() != nil })
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStatementTimeoutBoundsQueries: the API pool's sessions carry the
// statement timeout, so one slow query cannot hold a connection for long.
func TestStatementTimeoutBoundsQueries(t *testing.T) {
	t.Parallel()
	if pgtest.ThroughPgBouncer() {
		// PgBouncer drops statement_timeout from the startup packet
		// (ignore_startup_parameters); behind it the timeout is set on the
		// role (docs/scaling.md).
		t.Skip("PgBouncer ignores startup parameters")
	}
	pool, err := postgres.Open(context.Background(), pgtest.DSN(t), postgres.OpenOptions{StatementTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	start := time.Now()
	_, err = pool.Exec(context.Background(), `SELECT pg_sleep(5)`)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "57014" {
		t.Fatalf("a 5 s query under a 100 ms timeout: %v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("the query ran %v", took)
	}
}
