package postgres_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/connops/connops/internal/pgtest"
	"github.com/connops/connops/internal/postgres"
)

// TestMigrateWithTableLockAppliesOnce starts three table-locked migrators at
// once on an empty database, as replicas behind PgBouncer starting together
// would (run with PGTEST_PGBOUNCER=1 to go through one).
func TestMigrateWithTableLockAppliesOnce(t *testing.T) {
	t.Parallel()
	dsn := pgtest.EmptyDSN(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	table := postgres.WithMigrationLock(postgres.LockTable)
	errs := make(chan error, 3)
	for range 3 {
		go func() { errs <- postgres.Migrate(t.Context(), dsn, log, table) }()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(t.Context()))
	latest, err := postgres.LatestVersion()
	if err != nil {
		t.Fatal(err)
	}
	var rows, distinct, held int64
	if err := conn.QueryRow(t.Context(), `SELECT count(*), count(DISTINCT version_id) FROM goose_db_version WHERE version_id > 0`).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if rows != latest || distinct != latest {
		t.Errorf("goose_db_version has %d rows for %d versions, want %d each", rows, distinct, latest)
	}
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM goose_lock WHERE locked`).Scan(&held); err != nil {
		t.Fatal(err)
	}
	if held != 0 {
		t.Errorf("%d goose_lock rows still locked after the migrators returned", held)
	}

	states, err := postgres.MigrationStatus(t.Context(), dsn, log, table)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range states {
		if !s.Applied {
			t.Errorf("migration %d (%s) pending after Migrate", s.Version, s.Source)
		}
	}
}

func TestMigrateRejectsUnknownLock(t *testing.T) {
	t.Parallel()
	err := postgres.Migrate(t.Context(), "postgres://u@127.0.0.1:1/db", slog.New(slog.DiscardHandler),
		postgres.WithMigrationLock("advisory"))
	if err == nil || !strings.Contains(err.Error(), `"advisory"`) {
		t.Fatalf("Migrate with an unknown lock = %v, want an error naming it", err)
	}
}
