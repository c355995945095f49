package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/connops/connops/internal/connections"
)

// coalescer groups operation creates that arrive together into one INSERT
// statement: one round trip and one commit (one WAL flush) for the group
// instead of one each. Nobody waits for a group to fill: a create starts a
// flusher when fewer than maxFlushers are running, and every flusher takes
// whatever has queued up meanwhile. A lone request therefore goes out at once,
// and under load the groups grow by themselves.
//
// Each request still gets its own answer: the statement reports, row by row,
// whether the row went in, whether its id was taken, and whether its
// connection is visible to that request's scope.
type coalescer struct {
	pool *pgxpool.Pool

	mu       sync.Mutex
	pending  []*createRequest
	flushing int
}

const (
	// maxFlushers bounds the group statements in flight. One: every create
	// takes its connection's count row lock, so two groups for the same
	// connection would only queue on that lock (measured: twice the database
	// CPU per create at 8 clients), while one flusher keeps groups large and
	// the database busy. See docs/performance.md.
	maxFlushers = 1
	// maxGroup bounds one statement's size.
	maxGroup = 128
	// groupTimeout bounds one group statement. It is detached from any one
	// request's context, since cancelling it would fail its neighbours too.
	groupTimeout = 10 * time.Second
)

type createRequest struct {
	ctx   context.Context
	scope connections.Scope
	op    connections.Operation
	max   int64   // operations the connection may hold
	err   *string // the error as JSON text, or nil
	done  chan createResult
}

type createResult struct {
	op  connections.Operation
	err error
}

func newCoalescer(pool *pgxpool.Pool) *coalescer { return &coalescer{pool: pool} }

// create queues one insert and waits for its own result.
func (co *coalescer) create(ctx context.Context, scope connections.Scope, op connections.Operation, maxPerConnection int64) (connections.Operation, error) {
	errJSON, err := encodeError(op.Error)
	if err != nil {
		return connections.Operation{}, err
	}
	req := &createRequest{ctx: ctx, scope: scope, op: op, err: errJSON, max: maxPerConnection, done: make(chan createResult, 1)}
	co.mu.Lock()
	co.pending = append(co.pending, req)
	start := co.flushing < maxFlushers
	if start {
		co.flushing++
	}
	co.mu.Unlock()
	if start {
		go co.flush()
	}
	select {
	case res := <-req.done:
		return res.op, res.err
	case <-ctx.Done():
		// The row may still be written by its group; the caller was not told
		// it was, so nothing acknowledged is lost.
		return connections.Operation{}, fmt.Errorf("insert operation: %w", domainError(ctx.Err()))
	}
}

func (co *coalescer) flush() {
	for {
		co.mu.Lock()
		if len(co.pending) == 0 {
			co.flushing--
			co.mu.Unlock()
			return
		}
		n := min(len(co.pending), maxGroup)
		group := make([]*createRequest, n)
		copy(group, co.pending)
		co.pending = co.pending[n:]
		co.mu.Unlock()
		co.run(live(group))
	}
}

// live drops requests whose callers have already given up.
func live(group []*createRequest) []*createRequest {
	out := group[:0]
	for _, r := range group {
		if r.ctx.Err() == nil {
			out = append(out, r)
		}
	}
	return out
}

// insertGroupSQL inserts every visible row it can and reports on each input
// row, in input order: whether its connection is visible to that row's scope
// (and still there once its count row is locked), whether it fits under the
// connection's cap, and the new row's
// version and times when it went in. The target connections' count rows are
// locked in key order (so two groups cannot deadlock) and read, each row is
// ranked within its connection, and the counts are raised by what went in.
const insertGroupSQL = `
WITH input AS (
  SELECT t.*, EXISTS (
    SELECT 1 FROM connections c WHERE c.tenant_id = t.tenant_id AND c.id = t.connection_id
      AND (NOT t.owned_only OR (t.owner_app <> '' AND (c.created_by_app = t.owner_app OR t.owner_app = ANY (c.authorized_app_ids))))
  ) AS visible
  FROM unnest($1::text[], $2::bool[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[])
    WITH ORDINALITY AS t(tenant_id, owned_only, owner_app, connection_id, id, status, error, cap, ord)
), target AS (
  SELECT oc.tenant_id, oc.connection_id, oc.n FROM operation_counts oc
  WHERE (oc.tenant_id, oc.connection_id) IN (SELECT tenant_id, connection_id FROM input WHERE visible)
  ORDER BY oc.tenant_id, oc.connection_id FOR UPDATE
), ranked AS (
  SELECT i.*, t.n IS NOT NULL AS counted,
    t.n + row_number() OVER (PARTITION BY i.tenant_id, i.connection_id, i.visible ORDER BY i.ord) <= i.cap AS fits
  FROM input i LEFT JOIN target t ON t.tenant_id = i.tenant_id AND t.connection_id = i.connection_id
), ins AS (
  INSERT INTO operations (tenant_id, connection_id, id, status, error)
  SELECT r.tenant_id, r.connection_id, r.id, r.status::operation_status, r.error::jsonb
  FROM ranked r WHERE r.visible AND r.fits ORDER BY r.ord
  ON CONFLICT DO NOTHING
  RETURNING tenant_id, connection_id, id, version, created_at, updated_at
), counted AS (
  UPDATE operation_counts oc SET n = oc.n + x.n
  FROM (SELECT tenant_id, connection_id, count(*) AS n FROM ins GROUP BY 1, 2) x
  WHERE oc.tenant_id = x.tenant_id AND oc.connection_id = x.connection_id
)
SELECT r.visible AND r.counted, coalesce(r.fits, false), ins.version, ins.created_at, ins.updated_at
FROM ranked r LEFT JOIN ins ON ins.tenant_id = r.tenant_id AND ins.connection_id = r.connection_id AND ins.id = r.id
ORDER BY r.ord`

func (co *coalescer) run(group []*createRequest) {
	switch len(group) {
	case 0:
		return
	case 1:
		// Alone, the plain statement is cheaper for the database than the
		// group statement's unnest and per-row report.
		r := group[0]
		op, err := insertOperation(r.ctx, co.pool, r.scope, r.op, r.max)
		r.done <- createResult{op: op, err: err}
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(group[0].ctx), groupTimeout)
	defer cancel()
	results, err := co.insertGroup(ctx, group)
	var pgErr *pgconn.PgError
	if err != nil && errors.As(err, &pgErr) && len(group) > 1 {
		// A row-level failure (say a connection deleted mid-statement) fails
		// the whole statement: retry one by one so it fails only its own row.
		for _, r := range group {
			op, err := insertOperation(r.ctx, co.pool, r.scope, r.op, r.max)
			r.done <- createResult{op: op, err: err}
		}
		return
	}
	for i, r := range group {
		if err != nil {
			r.done <- createResult{err: fmt.Errorf("insert operation %s/%s: %w", r.op.ConnectionID, r.op.ID, domainError(err))}
			continue
		}
		r.done <- results[i]
	}
}

func (co *coalescer) insertGroup(ctx context.Context, group []*createRequest) ([]createResult, error) {
	n := len(group)
	tenants, owners, conns, ids, statuses := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	owned, errs, caps := make([]bool, n), make([]*string, n), make([]int64, n)
	for i, r := range group {
		tenants[i], owned[i], owners[i] = r.scope.TenantID, r.scope.OwnedOnly, r.scope.OwnerApp
		conns[i], ids[i], statuses[i], errs[i], caps[i] = r.op.ConnectionID, r.op.ID, string(r.op.Status), r.err, r.max
	}
	rows, err := co.pool.Query(ctx, insertGroupSQL, tenants, owned, owners, conns, ids, statuses, errs, caps)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	results := make([]createResult, 0, n)
	taken := map[[3]string]bool{}
	for rows.Next() {
		r := group[len(results)]
		var visible, fits bool
		var version *int64
		var created, updated *time.Time
		if err := rows.Scan(&visible, &fits, &version, &created, &updated); err != nil {
			return nil, err
		}
		key := [3]string{r.scope.TenantID, r.op.ConnectionID, r.op.ID}
		switch {
		case version != nil && !taken[key]:
			// Two requests in one group with the same id both join the one
			// row that went in: the first one owns it.
			taken[key] = true
			op := r.op
			op.Version, op.CreatedAt, op.UpdatedAt = *version, *created, *updated
			results = append(results, createResult{op: op})
		case visible && !fits:
			results = append(results, createResult{err: fmt.Errorf("insert operation %s/%s: %w", r.op.ConnectionID, r.op.ID, connections.ErrLimitExceeded)})
		case visible:
			results = append(results, createResult{err: fmt.Errorf("insert operation %s/%s: %w", r.op.ConnectionID, r.op.ID, connections.ErrAlreadyExists)})
		default:
			results = append(results, createResult{err: fmt.Errorf("insert operation %s/%s: %w", r.op.ConnectionID, r.op.ID, connections.ErrNotFound)})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(results) != n {
		return nil, fmt.Errorf("group insert answered %d of %d rows", len(results), n)
	}
	return results, nil
}
