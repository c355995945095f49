// Package postgres is the PostgreSQL adapter of connops: the pool, the
// migrations, and the store behind the connections service. All SQL is
// hand-written in constants beside the method that runs it.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// OpenOptions tune the request pool.
type OpenOptions struct {
	// Tracer, if set, traces every query.
	Tracer pgx.QueryTracer
	// StatementTimeout, if set, bounds every statement on the server, so
	// one expensive query cannot hold a connection for long. It travels as
	// a startup parameter, which PgBouncer must be told about
	// (docs/scaling.md).
	StatementTimeout time.Duration
}

// Open creates the request pool and checks the database answers.
func Open(ctx context.Context, dsn string, opts OpenOptions) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	if opts.StatementTimeout > 0 {
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(opts.StatementTimeout.Milliseconds(), 10)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		// A database that does not answer must fail requests quickly (503),
		// not hold them until the request deadline.
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	cfg.ConnConfig.Tracer = opts.Tracer
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

// Readiness checks on a timer that the database answers and carries the
// schema this binary expects, over a connection of its own: API traffic can
// never take the connection the check needs, and a probe only reads the
// last result, so probes cost the database nothing.
type Readiness struct {
	pool   *pgxpool.Pool
	latest int64
	every  time.Duration

	mu     sync.Mutex
	last   error
	at     time.Time // of the last successful check
	checks int       // run so far, for tests

	stop chan struct{}
	done chan struct{}
}

// ErrSchemaBehind means migrations this binary needs are not applied.
var ErrSchemaBehind = errors.New("database schema is behind this binary's migrations")

// errNotChecked: no check has succeeded yet, or none recently.
var errNotChecked = errors.New("no recent successful readiness check")

const schemaVersionSQL = `SELECT coalesce(max(version_id), 0) FROM goose_db_version WHERE is_applied`

// StartReadiness opens the check's one-connection pool on dsn, checks once,
// and keeps checking every interval until Close.
func StartReadiness(ctx context.Context, dsn string, every time.Duration) (*Readiness, error) {
	latest, err := LatestVersion()
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	cfg.MaxConns, cfg.MinConns = 1, 0
	if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > every {
		cfg.ConnConfig.ConnectTimeout = every
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("create readiness pool: %w", err)
	}
	r := &Readiness{pool: pool, latest: latest, every: every, last: errNotChecked,
		stop: make(chan struct{}), done: make(chan struct{})}
	r.check(ctx)
	go r.loop()
	return r, nil
}

func (r *Readiness) loop() {
	defer close(r.done)
	t := time.NewTicker(r.every)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), r.every)
			r.check(ctx)
			cancel()
		}
	}
}

func (r *Readiness) check(ctx context.Context) {
	var version int64
	err := r.pool.QueryRow(ctx, schemaVersionSQL).Scan(&version)
	switch {
	case err != nil:
		err = fmt.Errorf("read schema version: %w", err)
	case version < r.latest:
		err = fmt.Errorf("%w: at %d, need %d", ErrSchemaBehind, version, r.latest)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checks++
	r.last = err
	if err == nil {
		r.at = time.Now()
	}
}

// Ready returns the last check's result. A success older than three
// intervals counts as none: a check stuck on a hung database must not leave
// the process looking ready.
func (r *Readiness) Ready() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil && time.Since(r.at) > 3*r.every {
		return errNotChecked
	}
	return r.last
}

// Close stops the checks and closes their connection.
func (r *Readiness) Close() {
	close(r.stop)
	<-r.done
	r.pool.Close()
}
