package localpg_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connops/connops/internal/localpg"
)

func TestCrashRestartKeepsCommittedRows(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c, err := localpg.Start(ctx, localpg.Options{})
	if errors.Is(err, localpg.ErrNoBinaries) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })

	mustExec(t, c, "CREATE TABLE kv (k text PRIMARY KEY, v text)")
	mustExec(t, c, "INSERT INTO kv VALUES ('a', 'committed')")

	port := c.Port()
	if err := c.Crash(); err != nil {
		t.Fatalf("Crash: %v", err)
	}
	if conn, err := pgx.Connect(ctx, c.DSN("postgres")); err == nil {
		conn.Close(ctx)
		t.Fatal("connect after Crash succeeded; want the server down")
	}
	if err := c.Restart(ctx); err != nil {
		t.Fatalf("Restart after Crash: %v", err)
	}
	if c.Port() != port {
		t.Errorf("port after Restart = %d, want %d", c.Port(), port)
	}
	if got := queryValue(t, c, "SELECT v FROM kv WHERE k = 'a'"); got != "committed" {
		t.Errorf("row after crash recovery = %q, want %q", got, "committed")
	}
	if err := c.Restart(ctx); err == nil {
		t.Error("Restart of a running server succeeded; want an error")
	}

	if err := c.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := c.Restart(ctx); err != nil {
		t.Fatalf("Restart after Stop: %v", err)
	}
	dir := c.Dir()
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temp dir %s after Close: stat err = %v, want not exist", dir, err)
	}
}

func TestStartReusesGivenDir(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	// Not t.TempDir: its parent is mode 0700, which the server's OS user
	// cannot enter when the test runs as root.
	dir, err := os.MkdirTemp("", "localpg-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	opts := localpg.Options{Dir: dir, Settings: map[string]string{"application_name": "reuse"}}

	c, err := localpg.Start(ctx, opts)
	if errors.Is(err, localpg.ErrNoBinaries) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	mustExec(t, c, "CREATE TABLE marker ()")
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "PG_VERSION")); err != nil {
		t.Fatalf("data dir after Close of a caller-owned Dir: %v", err)
	}

	c, err = localpg.Start(ctx, opts)
	if err != nil {
		t.Fatalf("second Start: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if got := queryValue(t, c, "SELECT to_regclass('marker')::text"); got != "marker" {
		t.Errorf("table from first run = %q, want marker", got)
	}
}

func mustExec(t *testing.T, c *localpg.Cluster, sql string) {
	t.Helper()
	conn := connect(t, c)
	if _, err := conn.Exec(t.Context(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func queryValue(t *testing.T, c *localpg.Cluster, sql string) string {
	t.Helper()
	var v string
	if err := connect(t, c).QueryRow(t.Context(), sql).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

func connect(t *testing.T, c *localpg.Cluster) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.WithoutCancel(t.Context())) })
	return conn
}
