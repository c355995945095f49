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

// Migrate applies every pending embedded migration. It runs on its own
// short-lived connection, before the request pool exists, so that no cached
// prepared statement in the pool can outlive a schema change. The session
// advisory lock makes replicas that start together apply each migration once:
// the others wait for the lock, then find nothing pending.
func Migrate(ctx context.Context, dsn string, log *slog.Logger) error {
	return withProvider(ctx, dsn, log, func(p *goose.Provider) error {
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
func MigrationStatus(ctx context.Context, dsn string, log *slog.Logger) ([]MigrationState, error) {
	var states []MigrationState
	err := withProvider(ctx, dsn, log, func(p *goose.Provider) error {
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

func withProvider(ctx context.Context, dsn string, log *slog.Logger, fn func(*goose.Provider) error) error {
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
	locker, err := lock.NewPostgresSessionLocker(
		// Wait up to 5 minutes for another replica's migration, checking each second.
		lock.WithLockTimeout(1, 300),
	)
	if err != nil {
		return fmt.Errorf("create migration lock: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS,
		goose.WithSessionLocker(locker), goose.WithSlog(log))
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	return fn(p)
}

func pingWithin(ctx context.Context, db *sql.DB, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("reach database: %w", err)
	}
	return nil
}
