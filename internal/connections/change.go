package connections

import (
	"context"
	"time"
)

// ChangeType is what a change did to its resource.
type ChangeType string

// The change types, as the change log stores them and Graph's change
// notifications name them.
const (
	ChangeCreated ChangeType = "created"
	ChangeUpdated ChangeType = "updated"
	ChangeDeleted ChangeType = "deleted"
)

// Change is one entry of the change log: an operation or a connection as it
// stood after the change (as it was, for a delete). IDs grow in commit
// order within a tenant: a reader that has seen every change up to an id
// has missed none below it.
type Change struct {
	ID           int64
	ConnectionID string
	Type         ChangeType
	At           time.Time
	// Exactly one is set.
	Operation  *Operation
	Connection *Connection
}

// ChangeKey names what a watcher is interested in: an operation
// (Operation set), a connection's operations and the connection itself
// (Connection set), or the whole tenant.
type ChangeKey struct {
	TenantID     string
	ConnectionID string
	OperationID  string
}

// Watch is a registration for changes under a key. C receives a value
// (coalesced, never blocking the sender) after a change under the key
// commits; Stop ends the registration.
type Watch struct {
	C    <-chan struct{}
	Stop func()
}

// ChangeWatcher tells watchers when changes commit, on any replica.
type ChangeWatcher interface {
	// Watch registers for changes under key committed after it returns.
	Watch(ctx context.Context, key ChangeKey) (Watch, error)
}

// ChangeStore reads the change log.
type ChangeStore interface {
	// ListChanges returns up to limit changes in scope with ids above
	// after, in id order; with connectionID set, only the changes of that
	// connection and of its operations.
	ListChanges(ctx context.Context, scope Scope, connectionID string, after int64, limit int) ([]Change, error)
	// LatestChange is the id of the tenant's newest change (0 for none).
	LatestChange(ctx context.Context, tenantID string) (int64, error)
	// ChangeHorizon is the highest id of the tenant's changes retention
	// has purged: a reader resuming below it may have missed changes.
	ChangeHorizon(ctx context.Context, tenantID string) (int64, error)
}

// ChangeRef is a change as the change hub sees it: its id and what it
// changed (OperationID empty for a change of the connection itself).
type ChangeRef struct {
	ID  int64
	Key ChangeKey
}
