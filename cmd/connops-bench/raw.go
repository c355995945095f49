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

// prepareRaw adds the parent connection rows the baseline inserts point at.
func prepareRaw(ctx context.Context, dsn string, targets []target) error {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return fmt.Errorf("open %s: %w", rawDB, err)
	}
	defer pool.Close()
	for _, t := range targets {
		_, err = pool.Exec(ctx, `INSERT INTO connections (tenant_id, id, name) VALUES ($1, $2, $2)
ON CONFLICT DO NOTHING`, t.tenant, t.connection)
		if err != nil {
			return fmt.Errorf("insert baseline connection %s/%s: %w", t.tenant, t.connection, err)
		}
	}
	return nil
}

// rawInserts runs the baseline step: spec.clients goroutines sharing a
// pgxpool of as many connections (the kind of pool the service uses, default
// statement cache), each insert its own autocommit transaction, going to the
// connections s gives each worker, as the service step's requests do.
func rawInserts(ctx context.Context, dsn string, s spread, spec loadSpec) (stepResult, error) {
	next := s.walker(spec.clients)
	return rawUpserts(ctx, dsn, spec, func(ctx context.Context, pool *pgxpool.Pool, w int) error {
		_, err := rawInsert(ctx, pool, next(w))
		return err
	})
}

func rawInsert(ctx context.Context, pool *pgxpool.Pool, t target) (int, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return 0, err
	}
	var version int64
	var created, updated time.Time
	err = pool.QueryRow(ctx, rawInsertSQL, t.tenant, t.connection, id.String(), "inprogress").
		Scan(&version, &created, &updated)
	if err != nil {
		return 0, err
	}
	return 1, nil
}
