// Package pgtest gives each test its own real, migrated PostgreSQL database.
// It is test infrastructure: import it only from _test.go files.
//
// Every package that uses pgtest must stop the server it may have started:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// The server is chosen once per test binary: TEST_DATABASE_URL if set (a
// server where we may CREATE DATABASE), else a Docker container, else a
// private cluster from the machine's PostgreSQL binaries. When none is
// possible, tests are skipped, or fail when CI=true.
//
// PGTEST_PGBOUNCER=1 puts a PgBouncer in transaction-pooling mode between the
// tests and that server (see pgbouncer.go).
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/connops/connops/internal/localpg"
	"github.com/connops/connops/internal/postgres"
)

// server is the one PostgreSQL server this test binary uses.
type server struct {
	adminDSN string                          // a database we may CREATE DATABASE from
	admin    *pgxpool.Pool                   // runs CREATE/DROP DATABASE
	stop     func(ctx context.Context) error // nil when we did not start the server
	bouncer  *bouncer                        // set with PGTEST_PGBOUNCER=1; tests connect through it

	templateOnce sync.Once
	template     string // migrated database that per-test databases copy
	templateErr  error

	// createMu serializes CREATE DATABASE: copies of one template conflict
	// when run at the same time ("source database is being accessed").
	createMu sync.Mutex
}

// Package state is shared by every test in the binary so the server and the
// migrated template are built once; globals are allowed in test infra only.
var (
	serverOnce sync.Once
	shared     *server
	sharedErr  error
)

// setupTimeout bounds starting a server or container and migrating the
// template; pulling an image on a cold machine is the slow case.
const setupTimeout = 3 * time.Minute

// dockerProbeTimeout keeps the probe cheap on machines without an engine,
// where tests fall back to a local cluster.
const dockerProbeTimeout = 1500 * time.Millisecond

// errUnavailable marks "no server is possible here" as opposed to a server
// that exists but misbehaves; only the first kind may be skipped.
var errUnavailable = errors.New("no PostgreSQL available: set TEST_DATABASE_URL, start Docker, or install postgresql")

func getServer(t testing.TB) *server {
	t.Helper()
	if testing.Short() {
		t.Skip("pgtest: database tests skipped in -short mode")
	}
	s, err := sharedServer(t.Context())
	if err != nil {
		unavailable(t, err)
	}
	return s
}

// sharedServer starts the binary's server on first use.
func sharedServer(ctx context.Context) (*server, error) {
	serverOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), setupTimeout)
		defer cancel()
		shared, sharedErr = startServer(ctx)
	})
	return shared, sharedErr
}

func startServer(ctx context.Context) (*server, error) {
	s := &server{}
	switch {
	case os.Getenv("TEST_DATABASE_URL") != "":
		s.adminDSN = os.Getenv("TEST_DATABASE_URL")
	case dockerAvailable(ctx):
		dsn, stop, err := startContainer(ctx)
		if err != nil {
			return nil, err
		}
		s.adminDSN, s.stop = dsn, stop
	default:
		c, err := localpg.Start(ctx, localpg.Options{})
		if errors.Is(err, localpg.ErrNoBinaries) {
			return nil, fmt.Errorf("%w (%v)", errUnavailable, err)
		}
		if err != nil {
			return nil, err
		}
		s.adminDSN = c.DSN("postgres")
		s.stop = func(ctx context.Context) error { return errors.Join(c.Stop(ctx), c.Close()) }
	}
	admin, err := pgxpool.New(ctx, s.adminDSN)
	if err == nil {
		err = admin.Ping(ctx)
	}
	if err != nil {
		if s.stop != nil {
			_ = s.stop(ctx)
		}
		return nil, fmt.Errorf("connect to test server: %w", err)
	}
	s.admin = admin
	if bouncerWanted() {
		if s.bouncer, err = startBouncer(ctx, s.adminDSN); err != nil {
			return nil, errors.Join(err, s.close(ctx))
		}
	}
	return s, nil
}

// unavailable skips the test when no server is possible, except in CI where
// a silently skipped database suite would hide breakage. Any other error is
// a broken server and fails the test.
func unavailable(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, errUnavailable) && os.Getenv("CI") != "true" {
		t.Skipf("pgtest: %v", err)
	}
	t.Fatalf("pgtest: %v", err)
}

// migratedTemplate creates and migrates the template on first use. Its name
// is random so test binaries sharing TEST_DATABASE_URL do not collide.
func (s *server) migratedTemplate(ctx context.Context) (string, error) {
	s.templateOnce.Do(func() {
		name := "pgtest_tmpl_" + randomSuffix()
		if err := s.createDatabase(ctx, name, ""); err != nil {
			s.templateErr = err
			return
		}
		s.template = name
		// Migrations log each step at info level; tests need only the error.
		if err := postgres.Migrate(ctx, s.dsn(name), slog.New(slog.DiscardHandler)); err != nil {
			s.templateErr = fmt.Errorf("migrate template %s: %w", name, err)
		}
	})
	return s.template, s.templateErr
}

func (s *server) createDatabase(ctx context.Context, name, template string) error {
	sql := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if template != "" {
		sql += " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	}
	s.createMu.Lock()
	defer s.createMu.Unlock()
	if _, err := s.admin.Exec(ctx, sql); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

func (s *server) dropDatabase(ctx context.Context, name string) error {
	// FORCE ends sessions a test leaked, which would otherwise block the drop.
	sql := "DROP DATABASE IF EXISTS " + pgx.Identifier{name}.Sanitize() + " WITH (FORCE)"
	if _, err := s.admin.Exec(ctx, sql); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// clientDSN is what a test connects to database name with: through
// pgbouncer when there is one, else direct.
func (s *server) clientDSN(name string) string {
	if s.bouncer != nil {
		return s.bouncer.dsn(name)
	}
	return s.dsn(name)
}

// dsn points adminDSN at database name, in either DSN syntax pgx accepts.
func (s *server) dsn(name string) string {
	if u, err := url.Parse(s.adminDSN); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path = "/" + name
		u.RawPath = ""
		return u.String()
	}
	// Keyword/value form: a later keyword overrides an earlier one.
	return strings.TrimSpace(s.adminDSN) + " dbname=" + name
}

func randomSuffix() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b)
}
