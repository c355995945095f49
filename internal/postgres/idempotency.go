package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/connops/connops/internal/connections"
)

// claimKeySQL takes an Idempotency-Key for this transaction. A live key held
// by another transaction makes this statement wait on the primary key until
// that transaction ends, which is how a retry racing its original waits for
// it. An expired key is taken over as if new. No row back means the key is
// live and settled: read it.
const claimKeySQL = `
INSERT INTO idempotency_keys AS k (tenant_id, app_id, key, fingerprint, expires_at)
VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
ON CONFLICT (tenant_id, app_id, key) DO UPDATE
  SET fingerprint = EXCLUDED.fingerprint, expires_at = EXCLUDED.expires_at, result = NULL, created_at = now()
  WHERE k.expires_at < now()
RETURNING true`

const readKeySQL = `SELECT fingerprint, result FROM idempotency_keys WHERE tenant_id = $1 AND app_id = $2 AND key = $3`

const recordKeySQL = `UPDATE idempotency_keys SET result = $4 WHERE tenant_id = $1 AND app_id = $2 AND key = $3`

// inTx runs fn in a transaction, or, with idem set, runs it under the key: the
// key row and fn's writes commit together, and a settled key returns its
// recorded result instead of running fn again.
func inTx[T any](ctx context.Context, pool *pgxpool.Pool, tenant string, idem *connections.Idempotency, fn func(pgx.Tx) (T, error)) (out T, replayed bool, err error) {
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if idem == nil {
			var err error
			out, err = fn(tx)
			return err
		}
		var owned bool
		err := tx.QueryRow(ctx, claimKeySQL, tenant, idem.AppID, idem.Key, idem.Fingerprint, idem.TTL.Seconds()).Scan(&owned)
		if errors.Is(err, pgx.ErrNoRows) {
			var fingerprint string
			var result []byte
			if err := tx.QueryRow(ctx, readKeySQL, tenant, idem.AppID, idem.Key).Scan(&fingerprint, &result); err != nil {
				return fmt.Errorf("read idempotency key: %w", err)
			}
			if fingerprint != idem.Fingerprint || result == nil {
				return connections.ErrUnprocessable
			}
			replayed = true
			return json.Unmarshal(result, &out)
		}
		if err != nil {
			return fmt.Errorf("claim idempotency key: %w", err)
		}
		if out, err = fn(tx); err != nil {
			return err
		}
		result, err := json.Marshal(out)
		if err != nil {
			return fmt.Errorf("encode idempotent result: %w", err)
		}
		// As text: see encodeError.
		if _, err := tx.Exec(ctx, recordKeySQL, tenant, idem.AppID, idem.Key, string(result)); err != nil {
			return fmt.Errorf("record idempotency key: %w", err)
		}
		return nil
	})
	return out, replayed, err
}
