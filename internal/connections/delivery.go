package connections

import "time"

// Delivery is a subscription a delivery worker has claimed: where its
// notifications go and how far they have gone.
type Delivery struct {
	Subscription
	// Through is the change the subscription has delivered (or passed
	// over) through.
	Through int64
	// Attempts counts the failed attempts in a row before this claim.
	Attempts int
}

// Pending is what is left to send of a claimed subscription, oldest first.
type Pending struct {
	// Changes are the subscription's next changes, at most a batch.
	Changes []Change
	// Through is how far reading got: once Changes are delivered, every
	// change up to it has been sent or is not the subscription's.
	Through int64
	// More: there may be more after Through (a full batch or window).
	More bool
	// ConnectionDeleted: the watched connection was deleted at Through
	// (after Changes). Once Changes are delivered the subscription is
	// removed and its lifecycle URL told so.
	ConnectionDeleted bool
}

// Lifecycle events, as Graph names them.
const (
	LifecycleReauthorizationRequired = "reauthorizationRequired"
	LifecycleSubscriptionRemoved     = "subscriptionRemoved"
	LifecycleMissed                  = "missed"
)

// LifecycleEvent is a lifecycle notification waiting to go to a
// subscription's lifecycle URL. It carries all its POST needs, so
// subscriptionRemoved can be sent after the subscription is gone.
type LifecycleEvent struct {
	ID             int64
	SubscriptionID string
	TenantID       string
	AppID          string
	URL            string
	ClientState    *string
	ExpiresAt      time.Time
	Event          string
	CreatedAt      time.Time
	Attempts       int
}
