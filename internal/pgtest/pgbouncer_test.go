package pgtest_test

import (
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/connops/connops/internal/pgtest"
)

// TestPgBouncerModeGoesThroughPgBouncer checks that PGTEST_PGBOUNCER=1 really
// puts a proxy between the tests and the server, in the mode pgx needs there.
func TestPgBouncerModeGoesThroughPgBouncer(t *testing.T) {
	if os.Getenv("PGTEST_PGBOUNCER") != "1" {
		t.Skip("PGTEST_PGBOUNCER is not 1")
	}
	t.Parallel()
	cfg, err := pgx.ParseConfig(pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DefaultQueryExecMode != pgx.QueryExecModeExec {
		t.Errorf("query exec mode %v, want exec: PgBouncer 1.18 cannot carry prepared statements", cfg.DefaultQueryExecMode)
	}
	conn, err := pgx.ConnectConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var serverPort int
	if err := conn.QueryRow(t.Context(), "SELECT inet_server_port()").Scan(&serverPort); err != nil {
		t.Fatal(err)
	}
	if serverPort == int(cfg.Port) {
		t.Errorf("the server itself listens on the DSN's port %d: no PgBouncer in between", cfg.Port)
	}
}
