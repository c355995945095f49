// Package connections holds the domain of connops: external connections, their
// operations, who may touch them, and the rules their values follow. It knows
// nothing of HTTP or SQL.
package connections

import (
	"context"
	"log/slog"
	"slices"
	"time"
)

// Store is the persistence the service needs. Every method is confined to the
// given scope: rows outside it do not exist for the call. Methods return
// ErrNotFound or ErrAlreadyExists (possibly wrapped) for those outcomes.
type Store interface {
	// CreateConnection returns ErrLimitExceeded when the tenant already has
	// maxPerTenant connections. With idem set, it records the key with the
	// connection, or returns the recorded connection and replayed=true, or
	// ErrUnprocessable when the key came with another request.
	CreateConnection(ctx context.Context, scope Scope, c Connection, maxPerTenant int, idem *Idempotency) (created Connection, replayed bool, err error)
	GetConnection(ctx context.Context, scope Scope, id string) (Connection, error)
	ListConnections(ctx context.Context, scope Scope, q ListQuery) (Page[Connection], error)
	// UpdateConnection runs change on the locked current row and stores the
	// result, all in one transaction.
	UpdateConnection(ctx context.Context, scope Scope, id string, change func(*Connection) error) (Connection, error)
	DeleteConnection(ctx context.Context, scope Scope, id string) error

	// CreateOperation returns ErrNotFound when the parent connection is not in
	// scope, ErrAlreadyExists when the operation id is taken and
	// ErrLimitExceeded when the connection already holds maxPerConnection
	// operations. idem works as for CreateConnection.
	CreateOperation(ctx context.Context, scope Scope, op Operation, maxPerConnection int64, idem *Idempotency) (created Operation, replayed bool, err error)
	GetOperation(ctx context.Context, scope Scope, connectionID, id string) (Operation, error)
	// ListOperations returns ErrNotFound when the connection is not in scope.
	ListOperations(ctx context.Context, scope Scope, connectionID string, q ListQuery) (Page[Operation], error)
	CountOperations(ctx context.Context, scope Scope, connectionID string, f Filter) (int64, error)
	UpdateOperation(ctx context.Context, scope Scope, connectionID, id string, change func(*Operation) error) (Operation, error)
	DeleteOperation(ctx context.Context, scope Scope, connectionID, id string) error

	// RegisterSchema records a schema version, its operation op and the
	// work that will finish it, due after *due (never by itself when due
	// is nil), all in one transaction. check runs first, under the
	// connection's lock, with the active schema (nil when none) and the id
	// of a registration still running ("" when none); its error aborts.
	RegisterSchema(ctx context.Context, scope Scope, connectionID string, schema Schema, op Operation, due *time.Duration,
		maxPerConnection int64, check func(active *Schema, running string) error) (Operation, error)
	// GetSchema returns the pending schema version, else the active one;
	// found is false when there is neither. ErrNotFound: no connection.
	GetSchema(ctx context.Context, scope Scope, connectionID string) (v SchemaVersion, found bool, err error)
	ItemStore
	GroupStore
	ChangeStore
	StatisticsStore
	SubscriptionStore

	// FinishOperation ends a service-started operation with outcome, with
	// every consequence the engine's own finish has (schema active,
	// connection ready), in one transaction. check runs first on the locked
	// operation. ErrNotFound: no such operation in scope.
	FinishOperation(ctx context.Context, scope Scope, connectionID, id string, outcome Outcome, check func(Operation) error) (Operation, error)
}

// ItemStore is the persistence items need. Every method answers
// ErrNotFound when the connection is not in scope.
type ItemStore interface {
	// ActiveSchema returns the schema items are checked against (Version 0
	// when there is none) and the connection's state.
	ActiveSchema(ctx context.Context, scope Scope, connectionID string) (ActiveSchema, error)
	// PutItem creates or replaces an item checked against schemaVersion:
	// ErrSchemaChanged when that is no longer the active one,
	// ErrQuotaExceeded when a new item would pass maxItems.
	PutItem(ctx context.Context, scope Scope, connectionID string, item Item, schemaVersion int, maxItems int64) (created bool, err error)
	GetItem(ctx context.Context, scope Scope, connectionID, id string) (Item, error)
	// UpdateItem runs change on the locked item and stores the result, in
	// one transaction, if schemaVersion is still the active schema.
	UpdateItem(ctx context.Context, scope Scope, connectionID, id string, schemaVersion int, change func(*Item) error) (Item, error)
	DeleteItem(ctx context.Context, scope Scope, connectionID, id string, maxItems int64) error
	ListItems(ctx context.Context, scope Scope, connectionID string, q ListQuery) (Page[Item], error)
	CountItems(ctx context.Context, scope Scope, connectionID string, f Filter) (int64, error)
	AddActivities(ctx context.Context, scope Scope, connectionID, itemID string, activities []Activity) error
	ItemsUsed(ctx context.Context, scope Scope, connectionID string) (int64, error)
}

// GroupStore is the persistence external groups need.
type GroupStore interface {
	CreateGroup(ctx context.Context, scope Scope, connectionID string, g ExternalGroup) (ExternalGroup, error)
	GetGroup(ctx context.Context, scope Scope, connectionID, id string) (ExternalGroup, error)
	UpdateGroup(ctx context.Context, scope Scope, connectionID, id string, p GroupPatch) (ExternalGroup, error)
	DeleteGroup(ctx context.Context, scope Scope, connectionID, id string) error
	AddMember(ctx context.Context, scope Scope, connectionID, groupID string, m Member) (Member, error)
	GetMember(ctx context.Context, scope Scope, connectionID, groupID, id string) (Member, error)
	ListMembers(ctx context.Context, scope Scope, connectionID, groupID string, q ListQuery) (Page[Member], error)
	DeleteMember(ctx context.Context, scope Scope, connectionID, groupID, id string) error
}

// Service carries out the use cases on connections and operations.
type Service struct {
	store   Store
	log     *slog.Logger
	opts    Options
	schemas schemaCache
}

// Options are the service's limits.
type Options struct {
	// MaxConnectionsPerTenant is Graph's connection quota (30 by default).
	MaxConnectionsPerTenant int
	// IdempotencyTTL is how long an Idempotency-Key is remembered.
	IdempotencyTTL time.Duration
	// MaxOperationsPerConnection caps one connection's operations.
	MaxOperationsPerConnection int64
	// ProvisioningDelay is how long a schema registration takes before the
	// engine completes it; ManualProvisioning leaves it to a caller with the
	// control role.
	ProvisioningDelay  time.Duration
	ManualProvisioning bool
	// WorkAdded, if set, is called after new engine work commits, so a
	// local engine can pick it up without waiting for its next poll.
	WorkAdded func()
	// MaxItemsPerConnection is the item quota of one connection.
	MaxItemsPerConnection int64
	// Changes tells waits and streams when changes commit; nil turns
	// waiting off (a wait answers at once) and streams refuse.
	Changes ChangeWatcher
	// Admit, if set, holds one of the tenant's database slots around each
	// read a wait or a stream makes, which are not bounded by a request's
	// slot: they hold none while they wait.
	Admit func(ctx context.Context, tenantID string) (release func(), err error)
	// ReadTimeout bounds each of those reads (0: only the caller's context).
	ReadTimeout time.Duration
	// Webhooks vets subscription endpoints (their handshake); nil turns
	// subscription creates and URL changes off.
	Webhooks EndpointChecker
	// MaxSubscriptionLifetime caps a subscription's expirationDateTime
	// (DefaultMaxSubscriptionLifetime when zero).
	MaxSubscriptionLifetime time.Duration
}

// Default limits.
const (
	DefaultMaxConnectionsPerTenant = 30
	DefaultIdempotencyTTL          = 24 * time.Hour
	// DefaultMaxOperationsPerConnection is far above what retention leaves
	// behind in normal use; it stops a runaway client from filling the table.
	DefaultMaxOperationsPerConnection = 1_000_000
)

// NewService returns a Service over store. Zero options take the defaults.
func NewService(store Store, log *slog.Logger, opts Options) *Service {
	if opts.MaxConnectionsPerTenant <= 0 {
		opts.MaxConnectionsPerTenant = DefaultMaxConnectionsPerTenant
	}
	if opts.IdempotencyTTL <= 0 {
		opts.IdempotencyTTL = DefaultIdempotencyTTL
	}
	if opts.MaxOperationsPerConnection <= 0 {
		opts.MaxOperationsPerConnection = DefaultMaxOperationsPerConnection
	}
	if opts.MaxItemsPerConnection <= 0 {
		opts.MaxItemsPerConnection = DefaultMaxItemsPerConnection
	}
	if opts.MaxSubscriptionLifetime <= 0 {
		opts.MaxSubscriptionLifetime = DefaultMaxSubscriptionLifetime
	}
	return &Service{store: store, log: log, opts: opts}
}

// Precondition is an If-Match: the versions (ETags) the caller last saw. A nil
// Precondition always holds; Any holds for every existing resource.
type Precondition struct {
	Any      bool
	Versions []int64
}

func (p *Precondition) check(version int64) error {
	if p == nil || p.Any || slices.Contains(p.Versions, version) {
		return nil
	}
	return &Error{Kind: ErrPreconditionFailed,
		Message: "The resource has changed since the ETag in If-Match was read; read it again and retry."}
}
