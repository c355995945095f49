// Package postgres is the PostgreSQL adapter of connops: the pool, the
// migrations, and the store behind the connections service. All SQL is
// hand-written in constants beside the method that runs it.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Open creates the request pool and checks the database answers. tracer, if
// not nil, traces every query.
func Open(ctx context.Context, dsn string, tracer pgx.QueryTracer) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		// A database that does not answer must fail requests quickly (503),
		// not hold them until the request deadline.
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	cfg.ConnConfig.Tracer = tracer
	if !strings.Contains(dsn, "pool_max_conns") {
		// pgx's default (the larger of 4 and the host's CPU count, which is
		// not cgroup-aware) leaves too few connections for the create
		// flushers plus reads on small machines. Set pool_max_conns in
		// DATABASE_URL to size the pool against max_connections.
		cfg.MaxConns = max(cfg.MaxConns, 8)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("create pool: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("reach database: %w", err)
	}
	return pool, nil
}

// Readiness reports whether the database answers and carries the schema this
// binary expects.
type Readiness struct {
	pool   *pgxpool.Pool
	latest int64
}

// NewReadiness returns a check against pool.
func NewReadiness(pool *pgxpool.Pool) (*Readiness, error) {
	latest, err := LatestVersion()
	if err != nil {
		return nil, err
	}
	return &Readiness{pool: pool, latest: latest}, nil
}

// ErrSchemaBehind means migrations this binary needs are not applied.
var ErrSchemaBehind = errors.New("database schema is behind this binary's migrations")

const schemaVersionSQL = `SELECT coalesce(max(version_id), 0) FROM goose_db_version WHERE is_applied`

// Check returns nil when the database is reachable and migrated.
func (r *Readiness) Check(ctx context.Context) error {
	var version int64
	if err := r.pool.QueryRow(ctx, schemaVersionSQL).Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if version < r.latest {
		return fmt.Errorf("%w: at %d, need %d", ErrSchemaBehind, version, r.latest)
	}
	return nil
}
