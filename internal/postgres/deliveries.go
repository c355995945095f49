package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connops/connops/internal/connections"
)

// The webhook outbox: each subscription row is its own queue position
// (delivered_through) over the change log, claimed by one worker at a time
// with a lease, as work_items are.

// asyncCommit turns synchronous_commit off for the one statement it
// starts (its implicit transaction), which must name async in its FROM or
// USING so the setting is made. The delivery loop's claims and positions
// can afford it, and run a few times per POST: a crash loses at most the
// last moments' transactions, each whole, and what they recorded is redone
// — a lost claim lapses with its lease, a lost position resends a batch
// with the same notification ids. Not waiting for the WAL flush halves the
// time each takes and keeps them out of the creates' commit queue.
const asyncCommit = `async AS (SELECT set_config('synchronous_commit', 'off', true))`

// claimSubscriptionsSQL claims up to $3 subscriptions that are due, not
// expired, held by nobody (or by a worker whose lease lapsed), not sent to
// an endpoint in $5 (those at their bound on this replica), and with a
// change after their position, optionally only of the tenants in $4. SKIP
// LOCKED lets every replica's workers claim at once. The EXISTS is one
// probe of the change log's primary key per subscription.
const claimSubscriptionsSQL = `
WITH ` + asyncCommit + `, due AS (
  SELECT s.id FROM subscriptions s
  WHERE ($4::text[] IS NULL OR s.tenant_id = ANY ($4))
    AND s.due_at <= now() AND s.expires_at > now()
    AND (s.claimed_by IS NULL OR s.lease_until < now())
    AND NOT (s.endpoint = ANY ($5))
    AND EXISTS (SELECT 1 FROM changes c WHERE c.tenant_id = s.tenant_id AND c.id > s.delivered_through)
  ORDER BY s.due_at LIMIT $3
  FOR UPDATE SKIP LOCKED
)
UPDATE subscriptions s SET claimed_by = $1, lease_until = now() + make_interval(secs => $2)
FROM due, async WHERE s.id = due.id
RETURNING ` + subscriptionColumns + `, s.delivered_through, s.attempts`

// ClaimSubscriptions claims due subscriptions for worker. tenants nil
// means every tenant.
func (s *Store) ClaimSubscriptions(ctx context.Context, worker string, lease time.Duration, tenants, busy []string, limit int) ([]connections.Delivery, error) {
	if busy == nil {
		busy = []string{}
	}
	rows, err := s.pool.Query(ctx, claimSubscriptionsSQL, worker, lease.Seconds(), limit, tenants, busy)
	if err != nil {
		return nil, fmt.Errorf("claim subscriptions: %w", domainError(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (connections.Delivery, error) {
		var d connections.Delivery
		var err error
		d.Subscription, err = scanSubscription(r, &d.Through, &d.Attempts)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("claim subscriptions: %w", domainError(err))
	}
	return out, nil
}

// pendingWindow bounds the changes one read looks through, the
// subscription's and others: a subscription on one operation of a busy
// tenant moves past the rest a window at a time.
const pendingWindow = 5000

// pendingChangesSQL reads a subscription's next changes after $4 in the
// tenant's log: a window of the tenant's changes, filtered to what it
// watches, its change types and its scope ($1-$3, the visibility rule of
// connections). The deletion of a watched connection always comes, whatever
// the change types: it ends the subscription. through is the window's end,
// or $4 when the window is empty; n how many changes the window held.
const pendingChangesSQL = `
WITH w AS (
  SELECT * FROM changes c WHERE c.tenant_id = $1 AND c.id > $4 ORDER BY c.id LIMIT $9
), m AS (SELECT coalesce(max(id), $4) AS through, count(*) AS n FROM w)
SELECT m.through, m.n, c.id, c.connection_id, c.resource::text, c.change_type::text, c.entity, c.at FROM m
LEFT JOIN LATERAL (
  SELECT c.* FROM w c WHERE ` + visibleConnection + `
    AND (($5 = '' AND c.resource = 'connection' AND c.change_type = ANY ($8::change_type[]))
      OR ($5 <> '' AND c.connection_id = $5
          AND ((c.resource = 'operation' AND ($6 = '' OR c.resource_id = $6) AND c.change_type = ANY ($8::change_type[]))
            OR (c.resource = 'connection' AND c.change_type = 'deleted'))))
  ORDER BY c.id LIMIT $7
) c ON true
ORDER BY c.id`

// PendingChanges reads up to limit of a claimed subscription's next
// changes.
func (s *Store) PendingChanges(ctx context.Context, d connections.Delivery, limit int) (connections.Pending, error) {
	sub := d.Subscription
	rows, err := s.pool.Query(ctx, pendingChangesSQL, sub.TenantID, sub.OwnedOnly, sub.AppID, d.Through,
		sub.ConnectionID, sub.OperationID, limit, changeTypeArgs(sub.ChangeTypes), pendingWindow)
	if err != nil {
		return connections.Pending{}, fmt.Errorf("select pending changes: %w", domainError(err))
	}
	var p connections.Pending
	var changes []connections.Change
	for rows.Next() {
		var id *int64
		var c connections.Change
		var resource, changeType *string
		var entity []byte
		var at *time.Time
		var connectionID *string
		var window int
		if err := rows.Scan(&p.Through, &window, &id, &connectionID, &resource, &changeType, &entity, &at); err != nil {
			rows.Close()
			return p, fmt.Errorf("select pending changes: %w", domainError(err))
		}
		p.More = window == pendingWindow
		if id == nil {
			continue // the window held none of the subscription's changes
		}
		c.ID, c.ConnectionID, c.Type, c.At = *id, *connectionID, connections.ChangeType(*changeType), *at
		if err := decodeEntity(&c, *resource, entity); err != nil {
			rows.Close()
			return p, err
		}
		changes = append(changes, c)
	}
	if err := rows.Err(); err != nil {
		return p, fmt.Errorf("select pending changes: %w", domainError(err))
	}
	if len(changes) == limit {
		p.Through, p.More = changes[len(changes)-1].ID, true
	}
	for i, c := range changes {
		if sub.ConnectionID != "" && c.Connection != nil && c.Type == connections.ChangeDeleted {
			changes, p.Through, p.ConnectionDeleted, p.More = changes[:i], c.ID, true, false
			break
		}
	}
	p.Changes = changes
	return p, nil
}

// advanceSubscriptionSQL moves a subscription's position after a
// delivery, in the statement that keeps the claim (with a fresh lease, $4)
// or releases it. A worker that lost its claim changes nothing.
const advanceSubscriptionSQL = `
WITH ` + asyncCommit + `
UPDATE subscriptions SET delivered_through = greatest(delivered_through, $3), attempts = 0, due_at = now(),
  claimed_by = CASE WHEN $4 THEN claimed_by END,
  lease_until = CASE WHEN $4 THEN now() + make_interval(secs => $5) END
FROM async WHERE id = $1::uuid AND claimed_by = $2`

// AdvanceSubscription records delivery through the change through; keep
// holds the claim for lease more. held is false when the claim was lost.
func (s *Store) AdvanceSubscription(ctx context.Context, id, worker string, through int64, keep bool, lease time.Duration) (held bool, err error) {
	tag, err := s.pool.Exec(ctx, advanceSubscriptionSQL, id, worker, through, keep, lease.Seconds())
	if err != nil {
		return false, fmt.Errorf("advance subscription %s: %w", id, domainError(err))
	}
	return tag.RowsAffected() == 1, nil
}

// retrySubscriptionSQL backs a subscription off after a failed delivery
// and releases it; the position stays, so the next attempt resends.
const retrySubscriptionSQL = `
WITH ` + asyncCommit + `
UPDATE subscriptions SET attempts = attempts + 1, due_at = now() + make_interval(secs => $3), claimed_by = NULL, lease_until = NULL
FROM async WHERE id = $1::uuid AND claimed_by = $2`

// RetrySubscription schedules the next attempt after delay.
func (s *Store) RetrySubscription(ctx context.Context, id, worker string, delay time.Duration) error {
	if _, err := s.pool.Exec(ctx, retrySubscriptionSQL, id, worker, delay.Seconds()); err != nil {
		return fmt.Errorf("retry subscription %s: %w", id, domainError(err))
	}
	return nil
}

// releaseSubscriptionSQL hands a claim back untouched (a worker that could
// not use it now).
const releaseSubscriptionSQL = `WITH ` + asyncCommit + `
UPDATE subscriptions SET claimed_by = NULL, lease_until = NULL FROM async WHERE id = $1::uuid AND claimed_by = $2`

// ReleaseSubscription gives up a claim without changing the subscription.
func (s *Store) ReleaseSubscription(ctx context.Context, id, worker string) error {
	if _, err := s.pool.Exec(ctx, releaseSubscriptionSQL, id, worker); err != nil {
		return fmt.Errorf("release subscription %s: %w", id, domainError(err))
	}
	return nil
}

// eventColumns are the columns of a lifecycle event, eventValues (and
// the event's name) their values from a subscription row s.
const eventColumns = `subscription_id, tenant_id, application_id, url, endpoint, client_state, expires_at, event`

const eventValues = `s.id, s.tenant_id, s.application_id, s.lifecycle_url, s.lifecycle_endpoint, s.client_state, s.expires_at, `

// dropMissedSQL gives up on every pending change committed more than $3
// seconds ago (the retry window): the position moves past the last of them,
// the back-off goes on for what is left, and a missed event is queued
// unless one is already waiting. The window is counted from each change's
// commit, so a long outage drops changes as they age, not all at once.
const dropMissedSQL = `
WITH s AS (
  UPDATE subscriptions s SET
    delivered_through = greatest(s.delivered_through, (SELECT max(c.id) FROM changes c
      WHERE c.tenant_id = s.tenant_id AND c.id > s.delivered_through AND c.at < now() - make_interval(secs => $3))),
    attempts = s.attempts + 1, due_at = now() + make_interval(secs => $4), claimed_by = NULL, lease_until = NULL
  WHERE s.id = $1::uuid AND s.claimed_by = $2
  RETURNING s.*
), e AS (
  INSERT INTO subscription_events (` + eventColumns + `)
  SELECT ` + eventValues + `'` + connections.LifecycleMissed + `'` + ` FROM s
  WHERE s.lifecycle_url <> '' AND NOT EXISTS (
    SELECT 1 FROM subscription_events x WHERE x.subscription_id = s.id AND x.event = 'missed')
)
SELECT count(*) FROM s`

// DropMissed drops the pending changes older than window and backs off for
// what is left.
func (s *Store) DropMissed(ctx context.Context, id, worker string, window, delay time.Duration) error {
	if _, err := s.pool.Exec(ctx, dropMissedSQL, id, worker, window.Seconds(), delay.Seconds()); err != nil {
		return fmt.Errorf("drop missed changes of subscription %s: %w", id, domainError(err))
	}
	return nil
}

// removeSubscriptionSQL deletes a subscription whose connection is gone
// and queues its subscriptionRemoved.
const removeSubscriptionSQL = `
WITH s AS (
  DELETE FROM subscriptions s WHERE s.id = $1::uuid AND s.claimed_by = $2
  RETURNING s.*
), e AS (
  INSERT INTO subscription_events (` + eventColumns + `)
  SELECT ` + eventValues + `'` + connections.LifecycleSubscriptionRemoved + `'` + ` FROM s WHERE s.lifecycle_url <> ''
)
SELECT count(*) FROM s`

// RemoveSubscription deletes the claimed subscription and queues its
// subscriptionRemoved.
func (s *Store) RemoveSubscription(ctx context.Context, id, worker string) error {
	if _, err := s.pool.Exec(ctx, removeSubscriptionSQL, id, worker); err != nil {
		return fmt.Errorf("remove subscription %s: %w", id, domainError(err))
	}
	return nil
}
