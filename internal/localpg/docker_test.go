package localpg_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connops/connops/internal/localpg"
)

func TestDockerAvailableAnswersQuickly(t *testing.T) {
	t.Parallel()
	start := time.Now()
	ok := localpg.DockerAvailable(t.Context())
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("DockerAvailable took %v, want under 2s", took)
	}
	t.Logf("DockerAvailable = %v", ok)
}

func TestProvisionGivesAConnectableServer(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn, cleanup, err := localpg.Provision(ctx, localpg.Options{})
	if errors.Is(err, localpg.ErrNoBinaries) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to %s: %v", dsn, err)
	}
	var db string
	err = conn.QueryRow(ctx, "SELECT current_database()").Scan(&db)
	conn.Close(ctx)
	if err != nil || db != "postgres" {
		t.Errorf("current_database() = %q, %v; want postgres", db, err)
	}
	if err := cleanup(context.WithoutCancel(ctx)); err != nil {
		t.Errorf("cleanup: %v", err)
	}
	if conn, err := pgx.Connect(ctx, dsn); err == nil {
		conn.Close(ctx)
		t.Error("server still answers after cleanup")
	}
}
