package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/connops/connops/internal/connections"
	"github.com/connops/connops/internal/tenantgate"
)

// writeQueues run writes one queue per connection and scope: operation
// creates and item writes each have theirs. Only writes that would wait on
// the same count row anyway share a statement; writes to other
// connections, and other tenants', never wait for each other. A write that
// finds its queue idle runs at once on its caller's goroutine, with no
// hand-off; writes that arrive while it runs queue up, and one goroutine
// then writes them together: one statement, one round trip and one commit
// (one WAL flush) for the group.
type writeQueues[In, Out any] struct {
	pool       *pgxpool.Pool
	groupStart GroupStart
	gate       *tenantgate.Gate
	// write writes one group for one connection and scope, and reports on
	// each input in order; an error fails the whole group.
	write func(ctx context.Context, db batchSender, key queueKey, group []In) ([]result[Out], error)
	// committed, if set, is told the tenant after each group commits.
	committed func(tenantID string)

	mu     sync.Mutex
	queues map[queueKey][]*job[In, Out] // present while its queue is busy
	closed bool
	active sync.WaitGroup // busy queues
}

// GroupStart, if set, is called for each statement written on behalf of
// several requests: it returns the context to run it in (for tracing, a
// span linked to every member's) and a function ending that.
type GroupStart func(ctx context.Context, members []context.Context) (context.Context, func())

// queueKey: requests in one group share their scope, so the statement
// checks visibility once for all of them.
type queueKey struct {
	scope      connections.Scope
	connection string
}

// job is one queued write and where its outcome goes.
type job[In, Out any] struct {
	ctx  context.Context
	in   In
	done chan result[Out]
}

type result[Out any] struct {
	out Out
	err error
}

const (
	// maxGroup bounds one statement's size.
	maxGroup = 128
	// groupTimeout bounds one group statement. It is detached from any one
	// request's context, since cancelling it would fail its neighbours too.
	groupTimeout = 10 * time.Second
	// lockTimeout bounds the wait for a connection's count row, which a
	// connection delete holds while it runs: the group fails (503, retry)
	// rather than holding its requests for their whole deadline.
	lockTimeout = "2s"
)

// settleWriteSQL sets, for this transaction only, the lock timeout above and
// generic plans: the write statements' plans do not depend on their
// values, and without it PostgreSQL plans them afresh on every call (their
// array arguments make every custom plan look cheaper), which measured
// more than twice the statement's own execution time.
const settleWriteSQL = `SELECT set_config('lock_timeout', '` + lockTimeout + `', true), set_config('plan_cache_mode', 'force_generic_plan', true)`

func newWriteQueues[In, Out any](pool *pgxpool.Pool, groupStart GroupStart, gate *tenantgate.Gate,
	write func(context.Context, batchSender, queueKey, []In) ([]result[Out], error), committed func(string)) *writeQueues[In, Out] {
	return &writeQueues[In, Out]{pool: pool, groupStart: groupStart, gate: gate, write: write, committed: committed,
		queues: map[queueKey][]*job[In, Out]{}}
}

// submit writes in and returns its outcome.
func (w *writeQueues[In, Out]) submit(ctx context.Context, key queueKey, in In) (Out, error) {
	var zero Out
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return zero, fmt.Errorf("write: store closed: %w", connections.ErrUnavailable)
	}
	if pending, busy := w.queues[key]; busy {
		j := &job[In, Out]{ctx: ctx, in: in, done: make(chan result[Out], 1)}
		w.queues[key] = append(pending, j)
		w.mu.Unlock()
		select {
		case res := <-j.done:
			return res.out, res.err
		case <-ctx.Done():
			// The row may still be written by its group; the caller was not
			// told it was, so nothing acknowledged is lost.
			return zero, fmt.Errorf("write: %w", domainError(ctx.Err()))
		}
	}
	w.queues[key] = nil
	w.active.Add(1)
	w.mu.Unlock()
	res := w.run(ctx, key, []In{in})[0]
	if next := w.next(key); next != nil {
		go w.drain(key, next)
	}
	return res.out, res.err
}

// next takes the queue's next group, or marks the queue idle.
func (w *writeQueues[In, Out]) next(key queueKey) []*job[In, Out] {
	w.mu.Lock()
	defer w.mu.Unlock()
	pending := w.queues[key]
	if len(pending) == 0 {
		delete(w.queues, key)
		w.active.Done()
		return nil
	}
	n := min(len(pending), maxGroup)
	w.queues[key] = pending[n:]
	return pending[:n:n]
}

// drain writes the queue's groups until it is empty.
func (w *writeQueues[In, Out]) drain(key queueKey, group []*job[In, Out]) {
	for group != nil {
		group = live(group)
		if len(group) > 0 {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(group[0].ctx), groupTimeout)
			end := func() {}
			if w.groupStart != nil && len(group) > 1 {
				members := make([]context.Context, len(group))
				for i, j := range group {
					members[i] = j.ctx
				}
				ctx, end = w.groupStart(ctx, members)
			}
			ins := make([]In, len(group))
			for i, j := range group {
				ins[i] = j.in
			}
			for i, res := range w.run(ctx, key, ins) {
				group[i].done <- res
			}
			end()
			cancel()
		}
		group = w.next(key)
	}
}

// live drops jobs whose callers have already given up.
func live[In, Out any](group []*job[In, Out]) []*job[In, Out] {
	out := group[:0]
	for _, j := range group {
		if j.ctx.Err() == nil {
			out = append(out, j)
		}
	}
	return out
}

// close refuses new writes and waits for every busy queue to drain.
func (w *writeQueues[In, Out]) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.active.Wait()
}

// run writes one group in its own implicit transaction (one pipeline, one
// Sync), holding one of the tenant's slots meanwhile, and gives each input
// its outcome.
func (w *writeQueues[In, Out]) run(ctx context.Context, key queueKey, group []In) []result[Out] {
	release, err := w.gate.Acquire(ctx, key.scope.TenantID)
	var results []result[Out]
	if err == nil {
		results, err = w.write(ctx, w.pool, key, group)
		release()
	}
	if err == nil && w.committed != nil {
		w.committed(key.scope.TenantID)
	}
	if err != nil {
		results = make([]result[Out], len(group))
		for i := range group {
			results[i] = result[Out]{err: fmt.Errorf("write to %s: %w", key.connection, domainError(err))}
		}
	}
	return results
}

// newOperation is one operation create as the write queue carries it.
type newOperation struct {
	op  connections.Operation
	err *string // the error as JSON text, or nil
	max int64   // operations the connection may hold
}

func newOperationOf(op connections.Operation, maxPerConnection int64) (newOperation, error) {
	errJSON, err := encodeError(op.Error)
	return newOperation{op: op, err: errJSON, max: maxPerConnection}, err
}

// batchSender is what a pipelined write needs: the pool, which runs the
// batch as one implicit transaction, or a transaction it joins.
type batchSender interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// lockCountSQL takes the connection's count row, the lock every writer of
// the connection's operations takes first. It runs as its own statement so
// that the insert after it, in the same transaction, reads with a snapshot
// taken once the lock is held: it then sees every row committed before it,
// and its duplicate check and cap are exact.
const lockCountSQL = `SELECT oc.operations FROM connections c
JOIN connection_counts oc ON oc.tenant_id = c.tenant_id AND oc.connection_id = c.id
WHERE ` + visibleConnection + ` AND c.id = $4 FOR UPDATE OF oc`

// insertOperationsSQL writes 1..N rows for one connection and reports on
// each input row in input order: whether the connection is visible, whether
// the row's id was new (neither stored nor earlier in the group), and the
// new row's version and times when it went in. Duplicates are resolved
// before the cap counts rows, so with a cap of 2 the creates x, x, y store
// x and y and refuse the second x as a duplicate.
const insertOperationsSQL = `
WITH target AS (
  SELECT oc.operations AS n FROM connections c
  JOIN connection_counts oc ON oc.tenant_id = c.tenant_id AND oc.connection_id = c.id
  WHERE ` + visibleConnection + ` AND c.id = $4
), input AS (
  SELECT t.id, t.kind, t.status, t.error, t.ord
  FROM unnest($5::text[], $6::text[], $7::text[], $9::text[]) WITH ORDINALITY AS t(id, status, error, kind, ord)
), below_cap AS (
  -- When every input row fits under the cap, whether an id is stored need
  -- not be known before the insert: ON CONFLICT tells, and CASE below skips
  -- the probes. That is nearly always; it also spares the probes the
  -- generic plan made while the table was small, which walked another
  -- index of the connection's operations (operations_updated_idx, partial
  -- since migration 00013 so no lookup by id can take it) instead of the
  -- primary key.
  SELECT coalesce((SELECT n FROM target) + (SELECT count(*) FROM input) <= $8, false) AS yes
), fresh AS (
  -- A scalar subquery with LIMIT is never turned into a join: each input
  -- row costs one probe, whatever the statistics say about the table.
  SELECT DISTINCT ON (i.id) i.id, i.ord FROM input i
  WHERE CASE WHEN (SELECT yes FROM below_cap) THEN true
    ELSE (SELECT 1 FROM operations o WHERE o.tenant_id = $1 AND o.connection_id = $4 AND o.id = i.id LIMIT 1) IS NULL END
  ORDER BY i.id, i.ord
), admitted AS (
  SELECT r.ord FROM (SELECT f.ord, row_number() OVER (ORDER BY f.ord) AS rank FROM fresh f) r, target t
  WHERE t.n + r.rank <= $8
), ins AS (
  INSERT INTO operations (tenant_id, connection_id, id, kind, status, error)
  SELECT $1, $4, i.id, i.kind::operation_kind, i.status::operation_status, i.error::jsonb
  FROM input i JOIN admitted a ON a.ord = i.ord ORDER BY i.ord
  ON CONFLICT DO NOTHING
  RETURNING id, version, created_at, updated_at
), counted AS (
  UPDATE connection_counts oc SET operations = oc.operations + (SELECT count(*) FROM ins)
  WHERE oc.tenant_id = $1 AND oc.connection_id = $4 AND EXISTS (SELECT 1 FROM ins)
)
SELECT EXISTS (SELECT 1 FROM target), f.ord IS NOT NULL AND (ins.id IS NOT NULL OR NOT (SELECT yes FROM below_cap)),
  ins.version, ins.created_at, ins.updated_at
FROM input i
LEFT JOIN fresh f ON f.ord = i.ord
LEFT JOIN admitted a ON a.ord = i.ord
LEFT JOIN ins ON a.ord IS NOT NULL AND ins.id = i.id
ORDER BY i.ord`

// insertOperations is the one way operations are created: the lock and the
// insert, pipelined in one round trip. Every request of the group shares
// scope and connection.
func insertOperations(ctx context.Context, db batchSender, key queueKey, group []newOperation) ([]result[connections.Operation], error) {
	scope, connectionID := key.scope, key.connection
	n := len(group)
	ids, statuses, kinds, errs := make([]string, n), make([]string, n), make([]string, n), make([]*string, n)
	for i, r := range group {
		ids[i], statuses[i], kinds[i], errs[i] = r.op.ID, string(r.op.Status), string(r.op.Kind), r.err
		if r.op.Kind == "" {
			kinds[i] = string(connections.KindClient)
		}
	}
	b := &pgx.Batch{}
	b.Queue(settleWriteSQL)
	b.Queue(lockCountSQL, scopeArgs(scope, connectionID)...)
	b.Queue(insertOperationsSQL, scopeArgs(scope, connectionID, ids, statuses, errs, group[0].max, kinds)...)
	br := db.SendBatch(ctx, b)
	defer br.Close()
	for range 2 {
		if _, err := br.Exec(); err != nil {
			return nil, err
		}
	}
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	results := make([]result[connections.Operation], 0, n)
	for rows.Next() {
		r := group[len(results)]
		var visible, fresh bool
		var version *int64
		var created, updated *time.Time
		if err := rows.Scan(&visible, &fresh, &version, &created, &updated); err != nil {
			return nil, err
		}
		results = append(results, outcome(r, connectionID, visible, fresh, version, created, updated))
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(results) != n {
		return nil, fmt.Errorf("insert answered %d of %d rows", len(results), n)
	}
	rows.Close()
	return results, br.Close()
}

func outcome(r newOperation, connectionID string, visible, fresh bool, version *int64, created, updated *time.Time) result[connections.Operation] {
	fail := func(kind error) result[connections.Operation] {
		return result[connections.Operation]{err: fmt.Errorf("insert operation %s/%s: %w", connectionID, r.op.ID, kind)}
	}
	switch {
	case !visible:
		return fail(connections.ErrNotFound)
	case version != nil:
		op := r.op
		op.Version, op.CreatedAt, op.UpdatedAt = *version, *created, *updated
		return result[connections.Operation]{out: op}
	case fresh:
		return fail(connections.ErrLimitExceeded)
	}
	return fail(connections.ErrAlreadyExists)
}
