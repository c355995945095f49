package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/connops/connops/internal/localpg"
	"github.com/connops/connops/internal/postgres"
)

// databases are the two databases of a run: the service's, and a second one
// with the same schema for the raw-insert baseline, on the same server.
type databases struct {
	serviceDSN string
	rawDSN     string
	// service is a pool on the service's database for loading read data.
	service *pgxpool.Pool
	// postmaster is the pid of our private cluster; 0 for -database-url.
	postmaster int
	cluster    *localpg.Cluster
}

const (
	benchApp  = "connops-bench"
	serviceDB = "connops"
	rawDB     = "connops_raw"
)

// durableSettings override localpg's test defaults (fsync off): every 201
// and every baseline insert must be on disk before it is answered.
func durableSettings() map[string]string {
	return map[string]string{"fsync": "on", "synchronous_commit": "on"}
}

func openDatabases(ctx context.Context, databaseURL string, progress io.Writer) (*databases, error) {
	d := &databases{}
	if databaseURL == "" {
		fmt.Fprintln(progress, "starting a private PostgreSQL cluster (fsync=on, synchronous_commit=on)")
		c, err := localpg.Start(ctx, localpg.Options{Settings: durableSettings()})
		if err != nil {
			return nil, fmt.Errorf("start PostgreSQL: %w", err)
		}
		d.cluster = c
		if err := createDatabase(ctx, c.DSN("postgres"), serviceDB); err != nil {
			return nil, errors.Join(err, d.close())
		}
		d.serviceDSN = c.DSN(serviceDB)
		if pid, ok := findChild(os.Getpid(), "postgres"); ok {
			d.postmaster = pid
		} else {
			fmt.Fprintln(progress, "warning: postmaster not found; database CPU will not be reported")
		}
	} else {
		d.serviceDSN = databaseURL
	}
	var err error
	if d.rawDSN, err = withDatabase(d.serviceDSN, rawDB); err != nil {
		return nil, errors.Join(err, d.close())
	}
	if err := createDatabase(ctx, d.serviceDSN, rawDB); err != nil {
		return nil, errors.Join(err, d.close())
	}
	// The same migrations as the service, so the baseline table has the same
	// columns, indexes, constraints and foreign key.
	if err := postgres.Migrate(ctx, d.rawDSN, slog.New(slog.DiscardHandler)); err != nil {
		return nil, errors.Join(fmt.Errorf("migrate %s: %w", rawDB, err), d.close())
	}
	if err := plainBaseline(ctx, d.rawDSN); err != nil {
		return nil, errors.Join(err, d.close())
	}
	cfg, err := pgxpool.ParseConfig(d.serviceDSN)
	if err != nil {
		return nil, errors.Join(errors.New("parse database URL"), d.close())
	}
	// Named, so that counting the service's sessions can leave ours out.
	cfg.ConnConfig.RuntimeParams["application_name"] = benchApp
	if d.service, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, errors.Join(fmt.Errorf("open %s: %w", serviceDB, err), d.close())
	}
	return d, nil
}

// changeLogTriggers write the change log (migration 00010) in the
// service's database; the baseline goes without them.
var changeLogTriggers = map[string][]string{
	"operations":  {"operations_log_insert", "operations_log_update", "operations_log_delete"},
	"connections": {"connections_log_insert", "connections_log_update", "connections_log_delete"},
}

// plainBaseline turns off the change log's triggers in the baseline
// database: the baseline is the bare durable insert, and what the service
// pays for logging each change in the same transaction (a per-tenant lock
// held to the commit, a row in changes) is part of what the comparison
// shows. With the triggers on, 32 raw clients of one tenant queue on that
// lock, one commit at a time (about 1,500 inserts/s here against about
// 13,000 without).
func plainBaseline(ctx context.Context, dsn string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", rawDB, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for table, triggers := range changeLogTriggers {
		for _, t := range triggers {
			if _, err := conn.Exec(ctx, "ALTER TABLE "+table+" DISABLE TRIGGER "+t); err != nil {
				return fmt.Errorf("baseline without the change log: %w", err)
			}
		}
	}
	return nil
}

// createDatabase creates name through the server at dsn; an existing one is
// reused, which only happens with -database-url.
func createDatabase(ctx context.Context, dsn, name string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == "42P04" {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// withDatabase returns dsn pointing at database name.
func withDatabase(dsn, name string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", errors.New("database URL is not a valid URL")
		}
		u.Path = "/" + name
		return u.String(), nil
	}
	// Keyword/value form: a later keyword overrides an earlier one.
	return dsn + " dbname=" + name, nil
}

// serverInfo is what the report says about the database server.
type serverInfo struct {
	version, fsync, synchronousCommit, walSyncMethod, sharedBuffers string
}

func (d *databases) info(ctx context.Context) (serverInfo, error) {
	var s serverInfo
	err := d.service.QueryRow(ctx, `SELECT version(), current_setting('fsync'),
  current_setting('synchronous_commit'), current_setting('wal_sync_method'), current_setting('shared_buffers')`).
		Scan(&s.version, &s.fsync, &s.synchronousCommit, &s.walSyncMethod, &s.sharedBuffers)
	if err != nil {
		return s, fmt.Errorf("read server settings: %w", err)
	}
	return s, nil
}

// serviceConnections counts the service database's sessions other than ours.
func (d *databases) serviceConnections(ctx context.Context) (int, error) {
	var n int
	err := d.service.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND backend_type = 'client backend'
  AND application_name <> $1`, benchApp).Scan(&n)
	return n, err
}

func (d *databases) close() error {
	if d.service != nil {
		d.service.Close()
	}
	if d.cluster == nil {
		return nil
	}
	return d.cluster.Close()
}
