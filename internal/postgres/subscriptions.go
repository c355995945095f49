package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/connops/connops/internal/connections"
)

// subscriptionColumns are what every subscription read returns, aliased s.
const subscriptionColumns = `s.id::text, s.tenant_id, s.application_id, s.owned_only, s.resource, s.connection_id, s.operation_id,
  s.change_types::text[], s.notification_url, s.lifecycle_url, s.client_state, s.tls_version, s.expires_at, s.reminder_at, s.created_at`

func scanSubscription(row pgx.Row, more ...any) (connections.Subscription, error) {
	var sub connections.Subscription
	var types []string
	dst := append([]any{&sub.ID, &sub.TenantID, &sub.AppID, &sub.OwnedOnly, &sub.Resource, &sub.ConnectionID, &sub.OperationID,
		&types, &sub.NotificationURL, &sub.LifecycleNotificationURL, &sub.ClientState, &sub.TLSVersion, &sub.ExpiresAt,
		&sub.ReminderAt, &sub.CreatedAt}, more...)
	if err := row.Scan(dst...); err != nil {
		return sub, err
	}
	for _, t := range types {
		sub.ChangeTypes = append(sub.ChangeTypes, connections.ChangeType(t))
	}
	sub.ExpiresAt, sub.CreatedAt = sub.ExpiresAt.UTC(), sub.CreatedAt.UTC()
	return sub, nil
}

func changeTypeArgs(types []connections.ChangeType) []string {
	out := make([]string, len(types))
	for i, t := range types {
		out[i] = string(t)
	}
	return out
}

// lockSubscriptionsSQL serializes a tenant's subscription creates, so the
// quota check and the insert cannot interleave with another create's.
const lockSubscriptionsSQL = `SELECT pg_advisory_xact_lock(hashtextextended('connops.subscriptions:' || $1, 0))`

const countSubscriptionsSQL = `SELECT count(*) FROM subscriptions WHERE tenant_id = $1`

// keyShareConnectionSQL holds the watched connection until the
// subscription commits: a delete of it waits, so its deleted change comes
// after the subscription's position and the subscription hears of it.
const keyShareConnectionSQL = `SELECT 1 FROM connections c WHERE ` + visibleConnection + ` AND c.id = $4 FOR KEY SHARE`

const operationExistsSQL = `SELECT 1 ` + operationsInScope + ` AND o.id = $5`

// insertSubscriptionSQL starts the subscription at the tenant's newest
// committed change: per-tenant ids are commit-ordered, so every change
// committed from here on has a higher id.
const insertSubscriptionSQL = `
INSERT INTO subscriptions AS s (id, tenant_id, application_id, owned_only, resource, connection_id, operation_id, change_types,
  notification_url, endpoint, lifecycle_url, lifecycle_endpoint, client_state, tls_version, expires_at, reminder_at, delivered_through)
VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8::change_type[], $9, $10, $11, $16, $12, $13, $14, $15,
  (SELECT coalesce(max(id), 0) FROM changes WHERE tenant_id = $2))
RETURNING ` + subscriptionColumns

// CreateSubscription stores a subscription within the tenant's quota, if
// what it watches is in scope.
func (s *Store) CreateSubscription(ctx context.Context, scope connections.Scope, sub connections.Subscription, maxPerTenant int) (connections.Subscription, error) {
	var created connections.Subscription
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, lockSubscriptionsSQL, scope.TenantID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, countSubscriptionsSQL, scope.TenantID).Scan(&n); err != nil {
			return err
		}
		if n >= maxPerTenant {
			return connections.ErrLimitExceeded
		}
		if sub.ConnectionID != "" {
			if err := tx.QueryRow(ctx, keyShareConnectionSQL, scopeArgs(scope, sub.ConnectionID)...).Scan(new(int)); err != nil {
				return err
			}
		}
		if sub.OperationID != "" {
			if err := tx.QueryRow(ctx, operationExistsSQL, scopeArgs(scope, sub.ConnectionID, sub.OperationID)...).Scan(new(int)); err != nil {
				return err
			}
		}
		var err error
		created, err = scanSubscription(tx.QueryRow(ctx, insertSubscriptionSQL, sub.ID, sub.TenantID, sub.AppID, sub.OwnedOnly, sub.Resource,
			sub.ConnectionID, sub.OperationID, changeTypeArgs(sub.ChangeTypes), sub.NotificationURL, connections.Endpoint(sub.NotificationURL),
			sub.LifecycleNotificationURL, sub.ClientState, sub.TLSVersion, sub.ExpiresAt, sub.ReminderAt, lifecycleEndpoint(sub)))
		return err
	})
	if err != nil {
		return connections.Subscription{}, fmt.Errorf("insert subscription: %w", domainError(err))
	}
	return created, nil
}

func lifecycleEndpoint(sub connections.Subscription) string {
	if sub.LifecycleNotificationURL == "" {
		return ""
	}
	return connections.Endpoint(sub.LifecycleNotificationURL)
}

const getSubscriptionSQL = `SELECT ` + subscriptionColumns + ` FROM subscriptions s
WHERE s.tenant_id = $1 AND s.application_id = $2 AND s.id = $3::uuid`

// GetSubscription reads one subscription of its owner.
func (s *Store) GetSubscription(ctx context.Context, tenantID, appID, id string) (connections.Subscription, error) {
	sub, err := scanSubscription(s.pool.QueryRow(ctx, getSubscriptionSQL, tenantID, appID, id))
	if err != nil {
		return connections.Subscription{}, fmt.Errorf("select subscription %s: %w", id, domainError(err))
	}
	return sub, nil
}

func subscriptionColumn(string) (string, string) { return "s.id", "::uuid" }

const countOwnSubscriptionsSQL = `SELECT count(*) FROM subscriptions s WHERE s.tenant_id = $1 AND s.application_id = $2`

// ListSubscriptions reads one page of an owner's subscriptions, by id.
func (s *Store) ListSubscriptions(ctx context.Context, tenantID, appID string, lq connections.ListQuery) (connections.Page[connections.Subscription], error) {
	q := &query{args: []any{tenantID, appID}}
	q.sql.WriteString(`SELECT ` + subscriptionColumns + ` FROM subscriptions s WHERE s.tenant_id = $1 AND s.application_id = $2`)
	q.writePage(lq, subscriptionColumn)
	page, err := selectPage(ctx, s.pool, q, lq,
		func(r pgx.CollectableRow) (connections.Subscription, error) { return scanSubscription(r) },
		func(sub connections.Subscription, _ string) string { return sub.ID })
	if err != nil {
		return page, fmt.Errorf("select subscriptions: %w", err)
	}
	if lq.Count {
		var n int64
		if err := s.pool.QueryRow(ctx, countOwnSubscriptionsSQL, tenantID, appID).Scan(&n); err != nil {
			return page, fmt.Errorf("count subscriptions: %w", domainError(err))
		}
		page.Count = &n
	}
	return page, nil
}

const lockSubscriptionSQL = getSubscriptionSQL + ` FOR UPDATE`

// updateSubscriptionSQL writes a renewal. A changed URL is a new endpoint:
// its back-off starts over and it is due at once.
const updateSubscriptionSQL = `
UPDATE subscriptions s SET owned_only = $2, notification_url = $3, endpoint = $4, expires_at = $5, reminder_at = $6,
  attempts = CASE WHEN s.notification_url = $3 THEN s.attempts ELSE 0 END,
  due_at = CASE WHEN s.notification_url = $3 THEN s.due_at ELSE now() END
WHERE s.id = $1::uuid
RETURNING ` + subscriptionColumns

// UpdateSubscription locks the subscription, lets change decide, and
// writes the result.
func (s *Store) UpdateSubscription(ctx context.Context, tenantID, appID, id string, change func(*connections.Subscription) error) (connections.Subscription, error) {
	var sub connections.Subscription
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if sub, err = scanSubscription(tx.QueryRow(ctx, lockSubscriptionSQL, tenantID, appID, id)); err != nil {
			return err
		}
		if err := change(&sub); err != nil {
			return err
		}
		sub, err = scanSubscription(tx.QueryRow(ctx, updateSubscriptionSQL, id, sub.OwnedOnly, sub.NotificationURL,
			connections.Endpoint(sub.NotificationURL), sub.ExpiresAt, sub.ReminderAt))
		return err
	})
	if err != nil {
		return connections.Subscription{}, fmt.Errorf("update subscription %s: %w", id, domainError(err))
	}
	return sub, nil
}

const deleteSubscriptionSQL = `DELETE FROM subscriptions WHERE tenant_id = $1 AND application_id = $2 AND id = $3::uuid`

// DeleteSubscription deletes one subscription of its owner.
func (s *Store) DeleteSubscription(ctx context.Context, tenantID, appID, id string) error {
	tag, err := s.pool.Exec(ctx, deleteSubscriptionSQL, tenantID, appID, id)
	if err != nil {
		return fmt.Errorf("delete subscription %s: %w", id, domainError(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete subscription %s: %w", id, connections.ErrNotFound)
	}
	return nil
}
