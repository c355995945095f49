package postgres

import (
	"context"

	"github.com/connops/connops/internal/connections"
)

// InsertGroup writes ops for one connection in one statement, as the write
// queue does for a group, and returns each one's outcome.
func (s *Store) InsertGroup(ctx context.Context, scope connections.Scope, connectionID string, ops []connections.Operation, maxPerConnection int64) ([]connections.Operation, []error, error) {
	group := make([]newOperation, len(ops))
	for i, op := range ops {
		var err error
		if group[i], err = newOperationOf(op, maxPerConnection); err != nil {
			return nil, nil, err
		}
	}
	results, err := insertOperations(ctx, s.pool, queueKey{scope: scope, connection: connectionID}, group)
	if err != nil {
		return nil, nil, err
	}
	created, errs := make([]connections.Operation, len(ops)), make([]error, len(ops))
	for i, r := range results {
		created[i], errs[i] = r.out, r.err
	}
	return created, errs, nil
}

// Checks is how many database checks the readiness has run.
func (r *Readiness) Checks() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.checks
}

// Point lookups, for the plan test.
const (
	GetOperationSQL    = getOperationSQL
	LockOperationSQL   = lockOperationSQL
	UpdateOperationSQL = updateOperationSQL
	DeleteOperationSQL = deleteOperationSQL
	GetItemSQL         = getItemSQL
	LockItemSQL        = lockItemSQL
)
