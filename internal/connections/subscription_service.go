package connections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// SubscriptionStore is the persistence subscriptions need. A subscription
// is found only by its owner: the tenant and app that created it.
type SubscriptionStore interface {
	// CreateSubscription stores sub with its position at the tenant's
	// newest change, checking in the same transaction that what it watches
	// is in scope (ErrNotFound) and that the tenant holds fewer than
	// maxPerTenant subscriptions (ErrLimitExceeded).
	CreateSubscription(ctx context.Context, scope Scope, sub Subscription, maxPerTenant int) (Subscription, error)
	GetSubscription(ctx context.Context, tenantID, appID, id string) (Subscription, error)
	ListSubscriptions(ctx context.Context, tenantID, appID string, q ListQuery) (Page[Subscription], error)
	// UpdateSubscription runs change on the locked subscription and stores
	// the result; a new notification URL resets its back-off.
	UpdateSubscription(ctx context.Context, tenantID, appID, id string, change func(*Subscription) error) (Subscription, error)
	DeleteSubscription(ctx context.Context, tenantID, appID, id string) error
}

// EndpointChecker vets a webhook endpoint before a subscription may use it.
type EndpointChecker interface {
	// Validate refuses a URL connops does not deliver to and runs Graph's
	// validation handshake with it. The error says why, worded for the
	// caller ("answered 500, not 200").
	Validate(ctx context.Context, url string) error
}

// subscriptionFields are what $select may name on subscriptions: none, as
// the list and get answer every property.
var subscriptionFields = []string{}

// CreateSubscription checks the request, that the caller may read what it
// watches, and both URLs' handshakes, then stores the subscription. No
// database slot is held during the handshakes, which may take 10 s each.
func (s *Service) CreateSubscription(ctx context.Context, caller Caller, n NewSubscription) (Subscription, error) {
	scope, err := caller.readScope()
	if err != nil {
		return Subscription{}, err
	}
	if s.opts.Webhooks == nil {
		return Subscription{}, &Error{Kind: ErrUnavailable, Message: "Subscriptions are not available on this server."}
	}
	now := time.Now()
	sub, err := n.validate(now, s.opts.MaxSubscriptionLifetime)
	if err != nil {
		return Subscription{}, err
	}
	sub.ID, sub.TenantID, sub.AppID, sub.OwnedOnly = uuid.NewString(), caller.TenantID, caller.AppID, scope.OwnedOnly
	sub.ReminderAt = firstReminder(sub, now)
	// What it watches first: a 404 needs no handshake.
	if err := s.boundedRead(ctx, scope.TenantID, func(ctx context.Context) error { return s.checkWatched(ctx, scope, sub) }); err != nil {
		return Subscription{}, err
	}
	if err := s.handshake(ctx, "notificationUrl", sub.NotificationURL); err != nil {
		return Subscription{}, err
	}
	if err := s.handshake(ctx, "lifecycleNotificationUrl", sub.LifecycleNotificationURL); err != nil {
		return Subscription{}, err
	}
	var created Subscription
	err = s.boundedRead(ctx, scope.TenantID, func(ctx context.Context) error {
		var err error
		created, err = s.store.CreateSubscription(ctx, scope, sub, MaxSubscriptionsPerTenant)
		return err
	})
	switch {
	case errors.Is(err, ErrNotFound):
		// Deleted during the handshake.
		return Subscription{}, s.watchedError(err, sub)
	case errors.Is(err, ErrLimitExceeded):
		return Subscription{}, describe(ErrLimitExceeded, err, "The tenant already has the maximum of %d subscriptions; delete one first.",
			MaxSubscriptionsPerTenant)
	case err != nil:
		return Subscription{}, fmt.Errorf("create subscription: %w", err)
	}
	return created, nil
}

// checkWatched answers ErrNotFound, worded, when the connection or the
// operation a subscription names is not in scope.
func (s *Service) checkWatched(ctx context.Context, scope Scope, sub Subscription) error {
	var err error
	switch {
	case sub.OperationID != "":
		_, err = s.store.GetOperation(ctx, scope, sub.ConnectionID, sub.OperationID)
	case sub.ConnectionID != "":
		_, err = s.store.GetConnection(ctx, scope, sub.ConnectionID)
	}
	return s.watchedError(err, sub)
}

func (s *Service) watchedError(err error, sub Subscription) error {
	if sub.OperationID != "" {
		return operationError(err, sub.ConnectionID, sub.OperationID)
	}
	return connectionError(err, sub.ConnectionID)
}

// handshake validates one URL (none when empty). A failure is the URL's
// fault, a 400 naming the property; the caller going away is not.
func (s *Service) handshake(ctx context.Context, field, url string) error {
	if url == "" {
		return nil
	}
	err := s.opts.Webhooks.Validate(ctx, url)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return invalidField(field, "failed validation: %s", err.Error())
}

// GetSubscription returns one of the caller's subscriptions.
func (s *Service) GetSubscription(ctx context.Context, caller Caller, id string) (Subscription, error) {
	if _, err := caller.readScope(); err != nil {
		return Subscription{}, err
	}
	id, ok := subscriptionID(id)
	if !ok {
		return Subscription{}, subscriptionError(ErrNotFound, id)
	}
	sub, err := s.store.GetSubscription(ctx, caller.TenantID, caller.AppID, id)
	if err != nil {
		return Subscription{}, subscriptionError(err, id)
	}
	return sub, nil
}

// ListSubscriptions returns a page of the caller's subscriptions, by id.
func (s *Service) ListSubscriptions(ctx context.Context, caller Caller, q ListQuery) (Page[Subscription], error) {
	if _, err := caller.readScope(); err != nil {
		return Page[Subscription]{}, err
	}
	if err := validateIDQuery(&q, subscriptionFields, "subscriptions"); err != nil {
		return Page[Subscription]{}, err
	}
	if _, ok := subscriptionID(firstOf(q.After)); q.After != nil && !ok {
		return Page[Subscription]{}, invalid("$skiptoken", "Query option '$skiptoken' does not belong to this query.")
	}
	page, err := s.store.ListSubscriptions(ctx, caller.TenantID, caller.AppID, q)
	if err != nil {
		return page, fmt.Errorf("list subscriptions: %w", err)
	}
	return page, nil
}

// SubscriptionPatch is a renewal: a new expiry, a new notification URL, or
// both (nil: unchanged).
type SubscriptionPatch struct {
	ExpirationDateTime *string
	NotificationURL    *string
}

// UpdateSubscription renews a subscription. A new notification URL must
// pass the handshake first; a new expiry re-arms reauthorizationRequired.
// The caller's current read scope replaces the stored one.
func (s *Service) UpdateSubscription(ctx context.Context, caller Caller, id string, p SubscriptionPatch) (Subscription, error) {
	scope, err := caller.readScope()
	if err != nil {
		return Subscription{}, err
	}
	now := time.Now()
	var expires time.Time
	if p.ExpirationDateTime != nil {
		if expires, err = parseExpiration(*p.ExpirationDateTime, now, s.opts.MaxSubscriptionLifetime); err != nil {
			return Subscription{}, err
		}
	}
	if p.NotificationURL != nil {
		if err := checkNotificationURL("notificationUrl", *p.NotificationURL, true); err != nil {
			return Subscription{}, err
		}
		if s.opts.Webhooks == nil {
			return Subscription{}, &Error{Kind: ErrUnavailable, Message: "Subscriptions are not available on this server."}
		}
		// Found first: a 404 needs no handshake.
		err := s.boundedRead(ctx, caller.TenantID, func(ctx context.Context) error {
			_, err := s.GetSubscription(ctx, caller, id)
			return err
		})
		if err != nil {
			return Subscription{}, err
		}
		if err := s.handshake(ctx, "notificationUrl", *p.NotificationURL); err != nil {
			return Subscription{}, err
		}
	}
	return s.changeSubscription(ctx, caller, id, func(sub *Subscription) error {
		sub.OwnedOnly = scope.OwnedOnly
		if p.NotificationURL != nil {
			sub.NotificationURL = *p.NotificationURL
		}
		if p.ExpirationDateTime != nil {
			sub.ExpiresAt = expires
			sub.ReminderAt = firstReminder(*sub, now)
		}
		return nil
	})
}

// ReauthorizeSubscription is Graph's reauthorize action: the caller's
// current read permission is checked and stored, and reauthorizationRequired
// comes again a lead's time from now (if that is before expiry).
func (s *Service) ReauthorizeSubscription(ctx context.Context, caller Caller, id string) error {
	scope, err := caller.readScope()
	if err != nil {
		return err
	}
	_, err = s.changeSubscription(ctx, caller, id, func(sub *Subscription) error {
		sub.OwnedOnly = scope.OwnedOnly
		sub.ReminderAt = nextReminder(*sub, time.Now())
		return nil
	})
	return err
}

// changeSubscription updates the caller's subscription within bounded
// database steps (the renewal may have waited on a handshake).
func (s *Service) changeSubscription(ctx context.Context, caller Caller, id string, change func(*Subscription) error) (Subscription, error) {
	id, ok := subscriptionID(id)
	if !ok {
		return Subscription{}, subscriptionError(ErrNotFound, id)
	}
	var sub Subscription
	err := s.boundedRead(ctx, caller.TenantID, func(ctx context.Context) error {
		var err error
		sub, err = s.store.UpdateSubscription(ctx, caller.TenantID, caller.AppID, id, change)
		return err
	})
	if err != nil {
		return Subscription{}, subscriptionError(err, id)
	}
	return sub, nil
}

// DeleteSubscription deletes one of the caller's subscriptions. No
// lifecycle notification follows: the caller asked for it.
func (s *Service) DeleteSubscription(ctx context.Context, caller Caller, id string) error {
	if _, err := caller.readScope(); err != nil {
		return err
	}
	id, ok := subscriptionID(id)
	if !ok {
		return subscriptionError(ErrNotFound, id)
	}
	if err := s.store.DeleteSubscription(ctx, caller.TenantID, caller.AppID, id); err != nil {
		return subscriptionError(err, id)
	}
	return nil
}

// subscriptionID is a subscription id in its one stored spelling; any
// other string names no subscription.
func subscriptionID(id string) (string, bool) {
	u, err := uuid.Parse(id)
	if err != nil || len(id) != 36 {
		return id, false
	}
	return u.String(), true
}

func firstOf(c Cursor) string {
	if len(c) == 0 {
		return ""
	}
	return c[0]
}

func subscriptionError(err error, id string) error {
	if errors.Is(err, ErrNotFound) {
		return describe(ErrNotFound, err, "The subscription '%s' does not exist.", truncate(id, 64))
	}
	return err
}
