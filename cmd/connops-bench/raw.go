package main

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// rawInsertSQL is the baseline: the durable single-row insert a create needs,
// with nothing around it.
const rawInsertSQL = `INSERT INTO operations (tenant_id, connection_id, id, status, error)
VALUES ($1, $2, $3, $4::operation_status, NULL)
RETURNING version, created_at, updated_at`

// prepareRaw adds the parent connection row the baseline inserts point at.
func prepareRaw(ctx context.Context, dsn, tenant, connection string) error {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return fmt.Errorf("open %s: %w", rawDB, err)
	}
	defer pool.Close()
	_, err = pool.Exec(ctx, `INSERT INTO connections (tenant_id, id, name) VALUES ($1, $2, $2)
ON CONFLICT DO NOTHING`, tenant, connection)
	if err != nil {
		return fmt.Errorf("insert baseline connection: %w", err)
	}
	return nil
}

// rawInserts runs the baseline step: clients goroutines sharing a pgxpool of
// clients connections (the kind of pool the service uses, default statement
// cache), each insert its own autocommit transaction.
func rawInserts(ctx context.Context, dsn, tenant, connection string, clients int, warmup, window time.Duration, probe *cpuProbe) (stepResult, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return stepResult{}, fmt.Errorf("parse baseline URL: %w", err)
	}
	cfg.MaxConns = int32(clients)
	cfg.MinConns = int32(clients)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return stepResult{}, fmt.Errorf("open %s: %w", rawDB, err)
	}
	defer pool.Close()
	return drive(ctx, loadSpec{
		clients: clients, warmup: warmup, window: window, probe: probe,
		do: func(ctx context.Context, _ int) (int, error) {
			id, err := uuid.NewV7()
			if err != nil {
				return 0, err
			}
			var version int64
			var created, updated time.Time
			err = pool.QueryRow(ctx, rawInsertSQL, tenant, connection, id.String(), "inprogress").
				Scan(&version, &created, &updated)
			if err != nil {
				return 0, err
			}
			return 1, nil
		},
	})
}
