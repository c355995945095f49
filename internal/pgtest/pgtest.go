package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/connops/connops/internal/localpg"
)

// cleanupTimeout bounds dropping a database or stopping a server, which run
// after the test's own context is cancelled.
const cleanupTimeout = 30 * time.Second

// DSN returns the URL of a new database with every migration applied, owned
// by this test and dropped when it ends. With PGTEST_PGBOUNCER=1 the URL
// leads through PgBouncer and sets pgx's default_query_exec_mode=exec.
func DSN(t testing.TB) string {
	t.Helper()
	s := getServer(t)
	// Not t.Context alone: the template outlives this test and is shared.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), setupTimeout)
	defer cancel()
	tmpl, err := s.migratedTemplate(ctx)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return s.freshDatabase(t, tmpl)
}

// NewDatabase is DSN for code that runs without a testing.TB, such as a
// runnable Example: it returns the URL of a new migrated database and drop,
// which removes it. Where DSN would skip the test, it returns an error.
func NewDatabase(ctx context.Context) (dsn string, drop func(context.Context) error, err error) {
	s, err := sharedServer(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("pgtest: %w", err)
	}
	setupCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), setupTimeout)
	defer cancel()
	tmpl, err := s.migratedTemplate(setupCtx)
	if err != nil {
		return "", nil, fmt.Errorf("pgtest: %w", err)
	}
	name := "t_" + randomSuffix()
	if err := s.createDatabase(ctx, name, tmpl); err != nil {
		return "", nil, fmt.Errorf("pgtest: %w", err)
	}
	drop = func(ctx context.Context) error { return s.dropDatabase(ctx, name) }
	return s.clientDSN(name), drop, nil
}

// EmptyDSN returns the URL of a new database with no migrations applied, for
// tests of migration itself. It is dropped when the test ends.
func EmptyDSN(t testing.TB) string {
	t.Helper()
	return getServer(t).freshDatabase(t, "")
}

// New returns a pool on a new migrated database; the pool is closed, then the
// database dropped, when the test ends.
func New(t testing.TB) *pgxpool.Pool {
	t.Helper()
	dsn := DSN(t)
	pool, err := pgxpool.New(t.Context(), dsn)
	if err != nil {
		t.Fatalf("pgtest: open pool: %v", err)
	}
	// Registered after DSN's drop, so it runs before it (cleanups are LIFO).
	t.Cleanup(pool.Close)
	return pool
}

func (s *server) freshDatabase(t testing.TB, template string) string {
	t.Helper()
	name := "t_" + randomSuffix()
	if err := s.createDatabase(t.Context(), name, template); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), cleanupTimeout)
		defer cancel()
		if err := s.dropDatabase(ctx, name); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return s.clientDSN(name)
}

// Cluster starts a new private local cluster for this test alone, for fault
// tests that crash or restart the database; it is closed when the test ends.
// Unlike the shared server it always uses the machine's binaries, because a
// container cannot be crashed and restarted on the same data and port.
func Cluster(t testing.TB) *localpg.Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("pgtest: database tests skipped in -short mode")
	}
	c, err := localpg.Start(t.Context(), localpg.Options{})
	if errors.Is(err, localpg.ErrNoBinaries) {
		err = fmt.Errorf("%w (%v)", errUnavailable, err)
	}
	if err != nil {
		unavailable(t, err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("pgtest: close cluster: %v", err)
		}
	})
	return c
}

// Main runs the tests, then drops the template and stops any server this
// process started, then exits with the tests' status. Use it as TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if shared != nil {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		if err := shared.close(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
		cancel()
	}
	os.Exit(code)
}

func (s *server) close(ctx context.Context) error {
	var errs []error
	if s.bouncer != nil {
		errs = append(errs, s.bouncer.stop())
	}
	if s.template != "" {
		errs = append(errs, s.dropDatabase(ctx, s.template))
	}
	s.admin.Close()
	if s.stop != nil {
		errs = append(errs, s.stop(ctx))
	}
	return errors.Join(errs...)
}

// DirectDSN is the URL of the database dsn names, straight to the server:
// with PGTEST_PGBOUNCER=1 the same database without PgBouncer in between,
// for what needs a session of its own (LISTEN); otherwise dsn itself.
func DirectDSN(t testing.TB, dsn string) string {
	t.Helper()
	s := getServer(t)
	if s.bouncer == nil {
		return dsn
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return s.dsn(cfg.ConnConfig.Database)
}

// ThroughPgBouncer reports whether the tests reach their databases through
// PgBouncer (PGTEST_PGBOUNCER=1), which ignores session settings sent at
// connect time, such as statement_timeout.
func ThroughPgBouncer() bool { return bouncerWanted() }
