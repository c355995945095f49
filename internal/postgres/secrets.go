package postgres

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// lockSecretsSQL makes creating a purpose's first secret a one-replica
// act: two replicas starting together must end up with the same key, not
// one each.
const lockSecretsSQL = `SELECT pg_advisory_xact_lock(hashtextextended('connops.secrets:' || $1, 0))`

const selectSecretsSQL = `SELECT secret FROM secrets WHERE purpose = $1 ORDER BY id DESC`

const insertSecretSQL = `INSERT INTO secrets (purpose, secret) VALUES ($1, $2)`

// SharedSecrets returns the secrets of purpose that the replicas share,
// newest first, creating a random 32-byte one when there is none yet.
func (s *Store) SharedSecrets(ctx context.Context, purpose string) ([][]byte, error) {
	var out [][]byte
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, lockSecretsSQL, purpose); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, selectSecretsSQL, purpose)
		if err != nil {
			return err
		}
		if out, err = pgx.CollectRows(rows, pgx.RowTo[[]byte]); err != nil || len(out) > 0 {
			return err
		}
		secret := make([]byte, 32)
		_, _ = rand.Read(secret) // crypto/rand.Read never fails on Linux
		out = [][]byte{secret}
		_, err = tx.Exec(ctx, insertSecretSQL, purpose, secret)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read %s secrets: %w", purpose, domainError(err))
	}
	return out, nil
}
