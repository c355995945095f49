package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/connops/connops/migrations"
)

// MigrationState is one migration as `connops migrate status` reports it.
type MigrationState struct {
	Version   int64
	Source    string
	Applied   bool
	AppliedAt time.Time
}

// MigrationLock names how replicas that migrate at the same time take turns.
type MigrationLock string

const (
	// LockSession holds a session-level advisory lock on one connection for
	// the whole run (goose's session locker). It needs a real session: a
	// direct connection or a session-pooling proxy.
	LockSession MigrationLock = "session"
	// LockTable leases a row in the goose_lock table, renewed by a heartbeat,
	// through any connection (goose's table locker). It works behind PgBouncer
	// in transaction mode, where a session lock could be taken on one server
	// connection and released on another.
	LockTable MigrationLock = "table"
)

// MigrateOption changes how Migrate and MigrationStatus run.
type MigrateOption func(*migrateConfig)

type migrateConfig struct {
	lock MigrationLock
}

// WithMigrationLock picks the lock; the default (and the empty value) is
// LockSession.
func WithMigrationLock(l MigrationLock) MigrateOption {
	return func(c *migrateConfig) { c.lock = l }
}

// Migrate applies every pending embedded migration. It runs on its own
// short-lived connections, before the request pool exists, so that no cached
// prepared statement in the pool can outlive a schema change. The migration
// lock makes replicas that start together apply each migration once: the
// others wait for the lock, then find nothing pending.
func Migrate(ctx context.Context, dsn string, log *slog.Logger, opts ...MigrateOption) error {
	return withProvider(ctx, dsn, log, opts, func(p *goose.Provider) error {
		results, err := p.Up(ctx)
		for _, r := range results {
			log.InfoContext(ctx, "migration applied",
				slog.Int64("version", r.Source.Version), slog.String("source", r.Source.Path),
				slog.Duration("took", r.Duration))
		}
		if err != nil {
			return fmt.Errorf("apply migrations: %w", err)
		}
		return nil
	})
}

// MigrationStatus reports every embedded migration and whether it is applied.
// goose takes the migration lock for this too, so it honours the same options.
func MigrationStatus(ctx context.Context, dsn string, log *slog.Logger, opts ...MigrateOption) ([]MigrationState, error) {
	var states []MigrationState
	err := withProvider(ctx, dsn, log, opts, func(p *goose.Provider) error {
		status, err := p.Status(ctx)
		if err != nil {
			return fmt.Errorf("read migration status: %w", err)
		}
		for _, s := range status {
			states = append(states, MigrationState{
				Version:   s.Source.Version,
				Source:    s.Source.Path,
				Applied:   s.State == goose.StateApplied,
				AppliedAt: s.AppliedAt,
			})
		}
		return nil
	})
	return states, err
}

// LatestVersion is the highest embedded migration version: the schema version
// a ready database must have reached.
func LatestVersion() (int64, error) {
	sources, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		return 0, err
	}
	var latest int64
	for _, name := range sources {
		v, err := goose.NumericComponent(name)
		if err != nil {
			return 0, fmt.Errorf("migration %s: %w", name, err)
		}
		latest = max(latest, v)
	}
	return latest, nil
}

func withProvider(ctx context.Context, dsn string, log *slog.Logger, opts []MigrateOption, fn func(*goose.Provider) error) error {
	mc := migrateConfig{lock: LockSession}
	for _, o := range opts {
		o(&mc)
	}
	lockOpt, err := migrationLocker(mc.lock, log)
	if err != nil {
		return err
	}
	// Parsed as a pool URL so that pool settings in it (pool_max_conns, ...)
	// are understood rather than sent to the server as unknown parameters.
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("parse database URL: %w", err)
	}
	db := stdlib.OpenDB(*cfg.ConnConfig)
	defer db.Close()
	if err := pingWithin(ctx, db, 10*time.Second); err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS, lockOpt, goose.WithSlog(log))
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	return fn(p)
}

// migrationLocker builds the provider option for l. Either way a replica
// waits up to 5 minutes for another's migration, checking each second.
func migrationLocker(l MigrationLock, log *slog.Logger) (goose.ProviderOption, error) {
	switch l {
	case LockSession, "":
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
		if err != nil {
			return nil, fmt.Errorf("create migration lock: %w", err)
		}
		return goose.WithSessionLocker(locker), nil
	case LockTable:
		locker, err := lock.NewPostgresTableLocker(lock.WithTableLockTimeout(time.Second, 300), lock.WithTableLogger(log))
		if err != nil {
			return nil, fmt.Errorf("create migration lock: %w", err)
		}
		return goose.WithLocker(locker), nil
	}
	return nil, fmt.Errorf("migration lock %q: want %q or %q", l, LockSession, LockTable)
}

func pingWithin(ctx context.Context, db *sql.DB, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("reach database: %w", err)
	}
	return nil
}
