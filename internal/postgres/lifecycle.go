package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connops/connops/internal/connections"
)

// sweepBatch bounds the subscriptions one sweep statement touches.
const sweepBatch = 1000

// sweepRemindersSQL queues reauthorizationRequired for the subscriptions
// whose reminder is due and clears it, in one statement: two replicas
// sweeping at once each take other rows (SKIP LOCKED), so it goes out once.
const sweepRemindersSQL = `
WITH s AS (
  UPDATE subscriptions s SET reminder_at = NULL
  WHERE s.id IN (SELECT id FROM subscriptions WHERE reminder_at <= now() AND expires_at > now()
                 LIMIT $1 FOR UPDATE SKIP LOCKED)
  RETURNING s.*
), e AS (
  INSERT INTO subscription_events (` + eventColumns + `)
  SELECT ` + eventValues + `'` + connections.LifecycleReauthorizationRequired + `'` + ` FROM s WHERE s.lifecycle_url <> ''
)
SELECT count(*) FROM s`

// sweepExpiredSQL deletes expired subscriptions and queues their
// subscriptionRemoved. A worker delivering to one meanwhile finds its claim
// gone when it comes to record the outcome.
const sweepExpiredSQL = `
WITH s AS (
  DELETE FROM subscriptions s
  WHERE s.id IN (SELECT id FROM subscriptions WHERE expires_at <= now() LIMIT $1 FOR UPDATE SKIP LOCKED)
  RETURNING s.*
), e AS (
  INSERT INTO subscription_events (` + eventColumns + `)
  SELECT ` + eventValues + `'` + connections.LifecycleSubscriptionRemoved + `'` + ` FROM s WHERE s.lifecycle_url <> ''
)
SELECT count(*) FROM s`

// SweepSubscriptions queues the reminders that are due and removes the
// subscriptions that expired, a batch of each, and says how many.
func (s *Store) SweepSubscriptions(ctx context.Context) (reminded, removed int, err error) {
	if err := s.pool.QueryRow(ctx, sweepRemindersSQL, sweepBatch).Scan(&reminded); err != nil {
		return 0, 0, fmt.Errorf("sweep reminders: %w", domainError(err))
	}
	if err := s.pool.QueryRow(ctx, sweepExpiredSQL, sweepBatch).Scan(&removed); err != nil {
		return reminded, 0, fmt.Errorf("sweep expired subscriptions: %w", domainError(err))
	}
	return reminded, removed, nil
}

const eventReturning = `e.id, e.subscription_id::text, e.tenant_id, e.application_id, e.url, e.client_state, e.expires_at,
  e.event, e.created_at, e.attempts`

// claimEventsSQL claims due lifecycle events as claimSubscriptionsSQL
// claims subscriptions.
const claimEventsSQL = `
WITH ` + asyncCommit + `, due AS (
  SELECT id FROM subscription_events
  WHERE due_at <= now() AND (claimed_by IS NULL OR lease_until < now()) AND NOT (endpoint = ANY ($4))
  ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED
)
UPDATE subscription_events e SET claimed_by = $1, lease_until = now() + make_interval(secs => $2)
FROM due, async WHERE e.id = due.id
RETURNING ` + eventReturning

// ClaimEvents claims due lifecycle events for worker.
func (s *Store) ClaimEvents(ctx context.Context, worker string, lease time.Duration, busy []string, limit int) ([]connections.LifecycleEvent, error) {
	if busy == nil {
		busy = []string{}
	}
	rows, err := s.pool.Query(ctx, claimEventsSQL, worker, lease.Seconds(), limit, busy)
	if err != nil {
		return nil, fmt.Errorf("claim lifecycle events: %w", domainError(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (connections.LifecycleEvent, error) {
		var e connections.LifecycleEvent
		err := r.Scan(&e.ID, &e.SubscriptionID, &e.TenantID, &e.AppID, &e.URL, &e.ClientState, &e.ExpiresAt,
			&e.Event, &e.CreatedAt, &e.Attempts)
		e.ExpiresAt = e.ExpiresAt.UTC()
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("claim lifecycle events: %w", domainError(err))
	}
	return out, nil
}

const deleteEventSQL = `DELETE FROM subscription_events WHERE id = $1 AND claimed_by = $2`

// FinishEvent removes a sent (or given up) lifecycle event.
func (s *Store) FinishEvent(ctx context.Context, id int64, worker string) error {
	if _, err := s.pool.Exec(ctx, deleteEventSQL, id, worker); err != nil {
		return fmt.Errorf("delete lifecycle event %d: %w", id, domainError(err))
	}
	return nil
}

const retryEventSQL = `
UPDATE subscription_events SET attempts = attempts + 1, due_at = now() + make_interval(secs => $3), claimed_by = NULL, lease_until = NULL
WHERE id = $1 AND claimed_by = $2`

// RetryEvent schedules a lifecycle event's next attempt after delay.
func (s *Store) RetryEvent(ctx context.Context, id int64, worker string, delay time.Duration) error {
	if _, err := s.pool.Exec(ctx, retryEventSQL, id, worker, delay.Seconds()); err != nil {
		return fmt.Errorf("retry lifecycle event %d: %w", id, domainError(err))
	}
	return nil
}

const releaseEventSQL = `UPDATE subscription_events SET claimed_by = NULL, lease_until = NULL WHERE id = $1 AND claimed_by = $2`

// ReleaseEvent gives up a claim on a lifecycle event without changing it.
func (s *Store) ReleaseEvent(ctx context.Context, id int64, worker string) error {
	if _, err := s.pool.Exec(ctx, releaseEventSQL, id, worker); err != nil {
		return fmt.Errorf("release lifecycle event %d: %w", id, domainError(err))
	}
	return nil
}

// webhookQueueSQL sizes the outbox for the metrics: subscriptions, those
// backing off after failures, and lifecycle events waiting.
const webhookQueueSQL = `SELECT (SELECT count(*) FROM subscriptions), (SELECT count(*) FROM subscriptions WHERE attempts > 0),
  (SELECT count(*) FROM subscription_events)`

// WebhookQueue counts subscriptions, those retrying, and queued events.
func (s *Store) WebhookQueue(ctx context.Context) (subscriptions, retrying, events int64, err error) {
	if err := s.pool.QueryRow(ctx, webhookQueueSQL).Scan(&subscriptions, &retrying, &events); err != nil {
		return 0, 0, 0, fmt.Errorf("size webhook queue: %w", domainError(err))
	}
	return subscriptions, retrying, events, nil
}
