// Package httpapi is the HTTP face of connops: Graph-shaped routes, bodies and
// errors over the connections service, built on Gin.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/connops/connops/internal/connections"
	"github.com/connops/connops/internal/odata"
	"github.com/connops/connops/internal/tenantgate"
)

// Config holds what the HTTP layer needs from the process configuration.
type Config struct {
	// PublicBaseURL, when set, is the base of absolute links (Location,
	// @odata.context); otherwise they are built from the request.
	PublicBaseURL string
	// MaxBodyBytes caps request bodies; larger ones get 413.
	MaxBodyBytes int64
	// PageMaxBytes bounds one page of a list; 0 means
	// connections.DefaultPageBytes.
	PageMaxBytes int
	// BatchMaxBytes bounds the lists inside one $batch together: each of
	// its requests gets an equal share as its page budget.
	BatchMaxBytes int
	// RateLimit is the sustained requests per second each tenant's app may
	// make, with bursts of RateBurst; 0 turns limiting off.
	RateLimit float64
	RateBurst int
	// TenantGate bounds the requests of one tenant that work on the
	// database at once, so one tenant cannot hold every pool connection;
	// nil turns the bound off.
	TenantGate *tenantgate.Gate
	// RequestTimeout bounds how long a request may wait on the database.
	RequestTimeout time.Duration
	// WaitMax caps Prefer: wait (0: waits are not honoured).
	WaitMax time.Duration
	// StreamHeartbeat is how often an idle event stream sends a comment
	// (default 15s).
	StreamHeartbeat time.Duration
	// TrustedProxies are the addresses (IPs or CIDR ranges) whose
	// X-Forwarded-For is believed for the client IP, and whose
	// X-Forwarded-Proto and X-Forwarded-Host are believed for absolute
	// links when PublicBaseURL is not set.
	TrustedProxies []string
	// PageTokens seals and opens $skiptoken values; required.
	PageTokens *odata.TokenCodec
	// Metrics receives request and error counts; nil discards them.
	Metrics Metrics
	// Tracing, if set, runs first on every request (it names the trace span
	// by route).
	Tracing gin.HandlerFunc
	// WebhookKeys, if set, is served at /.well-known/jwks.json: the keys
	// that sign the notifications' validationTokens.
	WebhookKeys KeySet
	// Waits, if set, are the replica's waits, which its shutdown releases
	// (Waits.Release); otherwise the handler keeps its own.
	Waits *Waits
}

// Metrics is what the HTTP layer reports.
type Metrics interface {
	RequestDone(method, route string, status int, took time.Duration)
	RateLimited()
	DatabaseUnavailable()
	IdempotentReplay()
}

type noMetrics struct{}

func (noMetrics) RequestDone(string, string, int, time.Duration) {}
func (noMetrics) RateLimited()                                   {}
func (noMetrics) DatabaseUnavailable()                           {}
func (noMetrics) IdempotentReplay()                              {}

// Defaults of the byte bounds.
const (
	// DefaultMaxBodyBytes fits the largest operation the domain limits
	// allow with room to spare, and keeps a hostile body from costing real
	// memory.
	DefaultMaxBodyBytes = 256 << 10
	// DefaultBatchMaxBytes: twenty lists of a batch share 4 MiB.
	DefaultBatchMaxBytes = 4 << 20
)

// service is what the handlers call; *connections.Service satisfies it.
type service interface {
	CreateConnection(ctx context.Context, caller connections.Caller, n connections.NewConnection, key *connections.IdempotencyKey) (connections.Connection, bool, error)
	GetConnection(ctx context.Context, caller connections.Caller, id string, fields []string) (connections.Connection, error)
	ListConnections(ctx context.Context, caller connections.Caller, q connections.ListQuery) (connections.Page[connections.Connection], error)
	UpdateConnection(ctx context.Context, caller connections.Caller, id string, p connections.ConnectionPatch, pre *connections.Precondition) (connections.Connection, error)
	DeleteConnection(ctx context.Context, caller connections.Caller, id string) error
	CreateOperation(ctx context.Context, caller connections.Caller, connectionID string, n connections.NewOperation, key *connections.IdempotencyKey) (connections.Operation, bool, error)
	// WaitOperation is GetOperation when the condition asks for no wait.
	WaitOperation(ctx context.Context, caller connections.Caller, connectionID, id string, fields []string, w connections.WaitCondition) (connections.Operation, error)
	FollowChanges(ctx context.Context, caller connections.Caller, connectionID string, lastEventID *int64) (*connections.Feed, error)
	ConnectionStatistics(ctx context.Context, caller connections.Caller, connectionID string) (connections.Statistics, error)
	ListOperations(ctx context.Context, caller connections.Caller, connectionID string, q connections.ListQuery) (connections.Page[connections.Operation], error)
	CountOperations(ctx context.Context, caller connections.Caller, connectionID string, f connections.Filter) (int64, error)
	UpdateOperation(ctx context.Context, caller connections.Caller, connectionID, id string, p connections.OperationPatch, pre *connections.Precondition) (connections.Operation, error)
	DeleteOperation(ctx context.Context, caller connections.Caller, connectionID, id string) error
	RegisterSchema(ctx context.Context, caller connections.Caller, connectionID string, schema connections.Schema) (connections.Operation, error)
	GetSchema(ctx context.Context, caller connections.Caller, connectionID string) (connections.SchemaVersion, error)

	PutItem(ctx context.Context, caller connections.Caller, connectionID, itemID string, in connections.ItemInput) (bool, error)
	GetItem(ctx context.Context, caller connections.Caller, connectionID, itemID string, fields []string) (connections.Item, error)
	UpdateItem(ctx context.Context, caller connections.Caller, connectionID, itemID string, p connections.ItemPatch) (connections.Item, error)
	DeleteItem(ctx context.Context, caller connections.Caller, connectionID, itemID string) error
	ListItems(ctx context.Context, caller connections.Caller, connectionID string, q connections.ListQuery) (connections.Page[connections.Item], error)
	CountItems(ctx context.Context, caller connections.Caller, connectionID string, f connections.Filter) (int64, error)
	AddActivities(ctx context.Context, caller connections.Caller, connectionID, itemID string, activities []connections.Activity) ([]connections.ActivityResult, error)
	ItemQuota(ctx context.Context, caller connections.Caller, connectionID string) (connections.ItemQuota, error)

	CreateGroup(ctx context.Context, caller connections.Caller, connectionID string, g connections.ExternalGroup) (connections.ExternalGroup, error)
	GetGroup(ctx context.Context, caller connections.Caller, connectionID, id string) (connections.ExternalGroup, error)
	UpdateGroup(ctx context.Context, caller connections.Caller, connectionID, id string, p connections.GroupPatch) (connections.ExternalGroup, error)
	DeleteGroup(ctx context.Context, caller connections.Caller, connectionID, id string) error
	AddMember(ctx context.Context, caller connections.Caller, connectionID, groupID string, m connections.Member) (connections.Member, error)
	GetMember(ctx context.Context, caller connections.Caller, connectionID, groupID, id string) (connections.Member, error)
	ListMembers(ctx context.Context, caller connections.Caller, connectionID, groupID string, q connections.ListQuery) (connections.Page[connections.Member], error)
	DeleteMember(ctx context.Context, caller connections.Caller, connectionID, groupID, id string) error

	CreateSubscription(ctx context.Context, caller connections.Caller, n connections.NewSubscription) (connections.Subscription, error)
	GetSubscription(ctx context.Context, caller connections.Caller, id string) (connections.Subscription, error)
	ListSubscriptions(ctx context.Context, caller connections.Caller, q connections.ListQuery) (connections.Page[connections.Subscription], error)
	UpdateSubscription(ctx context.Context, caller connections.Caller, id string, p connections.SubscriptionPatch) (connections.Subscription, error)
	DeleteSubscription(ctx context.Context, caller connections.Caller, id string) error
	ReauthorizeSubscription(ctx context.Context, caller connections.Caller, id string) error
}

// verifier turns a bearer token into a caller.
type verifier interface {
	Verify(ctx context.Context, token string) (connections.Caller, error)
}

// readiness reports whether the process may take traffic. It answers from
// memory (the last result of a periodic check), so a probe costs the
// database nothing.
type readiness interface {
	Ready() error
}

type server struct {
	engine  *gin.Engine
	proxies proxies
	limits  *limiters
	waits   *Waits
	cfg     Config
	svc     service
	auth    verifier
	ready   readiness
	log     *slog.Logger
}

// New builds the HTTP handler.
func New(cfg Config, svc service, auth verifier, ready readiness, log *slog.Logger) (http.Handler, error) {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.BatchMaxBytes <= 0 {
		cfg.BatchMaxBytes = DefaultBatchMaxBytes
	}
	if cfg.Metrics == nil {
		cfg.Metrics = noMetrics{}
	}
	if cfg.Waits == nil {
		cfg.Waits = NewWaits()
	}
	if cfg.PageTokens == nil {
		return nil, errors.New("httpapi: a page token codec is required")
	}
	trusted, err := parseProxies(cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("trusted proxies: %w", err)
	}
	s := &server{cfg: cfg, svc: svc, auth: auth, ready: ready, log: log, proxies: trusted,
		limits: newLimiters(cfg.RateLimit, cfg.RateBurst), waits: cfg.Waits}

	r := gin.New()
	s.engine = r
	r.HandleMethodNotAllowed = true
	// Redirects would answer API clients with non-Graph bodies; an unclean
	// path (//, /./) is routed as its clean form instead.
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.RemoveExtraSlash = true
	r.ContextWithFallback = true
	// No proxy is trusted until one is configured: client IPs come from the
	// socket, not from a header any client can write.
	if err := r.SetTrustedProxies(trusted.strings()); err != nil {
		return nil, fmt.Errorf("trusted proxies: %w", err)
	}

	if cfg.Tracing != nil {
		r.Use(cfg.Tracing)
	}
	r.Use(withRequestIDs, s.logRequests, s.recoverPanics, rejectBadPaths, s.withTimeout)
	r.NoRoute(func(c *gin.Context) {
		respondError(c, http.StatusNotFound, codeResourceNotFound, "No resource was found at this path.", "")
	})
	r.NoMethod(answerOptions)

	get(r, "/healthz", s.healthz)
	get(r, "/readyz", s.readyz)
	get(r, "/openapi.json", s.openAPI)
	get(r, "/openapi.yaml", s.openAPI)
	get(r, "/.well-known/jwks.json", s.jwks)

	for _, version := range []string{"v1.0", "beta"} {
		r.POST("/"+version+"/$batch", s.authenticate, s.rateLimit, negotiate, s.requireJSONBodyUpTo(batchBodyFactor), s.batch(version))
		s.registerSubscriptions(r, version)
		for _, set := range []string{"connections", "external/connections"} {
			rt := route{version: version, set: set, legacy: version == "beta" && set == "connections"}
			g := r.Group("/"+version+"/"+set, withRoute(rt), s.authenticate, s.rateLimit, negotiate, applyPreferences, s.requireJSONBody)
			slot := s.tenantSlot
			g.POST("", slot, s.createConnection(rt))
			get(g, "", slot, s.listConnections(rt))
			get(g, "/:connectionId", slot, s.getConnection(rt))
			g.PATCH("/:connectionId", slot, s.updateConnection(rt))
			g.DELETE("/:connectionId", slot, s.deleteConnection)
			// Queued writes: the write queue takes the tenant slot itself.
			g.POST("/:connectionId/operations", s.createOperation(rt))
			get(g, "/:connectionId/operations", slot, s.listOperations(rt))
			get(g, "/:connectionId/operations/$count", slot, s.countOperations(rt))
			get(g, "/:connectionId/operations/:operationId", slot, s.getOperation(rt))
			g.PATCH("/:connectionId/operations/:operationId", slot, s.updateOperation(rt))
			g.DELETE("/:connectionId/operations/:operationId", slot, s.deleteOperation(rt))
			g.PATCH("/:connectionId/schema", slot, s.registerSchema(rt))
			g.POST("/:connectionId/schema", slot, s.registerSchema(rt))
			get(g, "/:connectionId/schema", slot, s.getSchema(rt))
			g.PUT("/:connectionId/items/:itemId", s.putItem) // queued, like creates
			get(g, "/:connectionId/items/:itemId", slot, s.getItem(rt))
			g.PATCH("/:connectionId/items/:itemId", slot, s.updateItem(rt))
			g.DELETE("/:connectionId/items/:itemId", slot, s.deleteItem)
			get(g, "/:connectionId/items", slot, s.listItems(rt))
			get(g, "/:connectionId/items/$count", slot, s.countItems(rt))
			// The SDKs call the action by its namespace-qualified name.
			g.POST("/:connectionId/items/:itemId/addActivities", slot, s.addActivities(rt))
			g.POST("/:connectionId/items/:itemId/microsoft.graph.externalConnectors.addActivities", slot, s.addActivities(rt))
			g.POST("/:connectionId/groups", slot, s.createGroup(rt))
			get(g, "/:connectionId/groups/:groupId", slot, s.getGroup(rt))
			g.PATCH("/:connectionId/groups/:groupId", slot, s.updateGroup(rt))
			g.DELETE("/:connectionId/groups/:groupId", slot, s.deleteGroup)
			g.POST("/:connectionId/groups/:groupId/members", slot, s.addMember(rt))
			get(g, "/:connectionId/groups/:groupId/members", slot, s.listMembers(rt))
			get(g, "/:connectionId/groups/:groupId/members/:memberId", slot, s.getMember(rt))
			g.DELETE("/:connectionId/groups/:groupId/members/:memberId", slot, s.deleteMember)
			// A connops extension for dashboards (docs/api.md#statistics).
			get(g, "/:connectionId/statistics", slot, s.getStatistics)
			if version == "beta" {
				get(g, "/:connectionId/quota", slot, s.getQuota(rt))
			}
		}
	}
	return r, nil
}

// get registers a GET route and the HEAD route that answers like it, as
// HTTP asks (net/http sends no body for HEAD).
func get(r gin.IRoutes, path string, h ...gin.HandlerFunc) {
	r.GET(path, h...)
	r.HEAD(path, h...)
}

// answerOptions is the NoMethod handler: OPTIONS on a path that exists
// answers 204 with its methods (gin has set Allow); any other method the
// path lacks is a Graph 405.
func answerOptions(c *gin.Context) {
	if c.Request.Method == http.MethodOptions {
		c.Header("Allow", c.Writer.Header().Get("Allow")+", OPTIONS")
		c.AbortWithStatus(http.StatusNoContent)
		return
	}
	respondError(c, http.StatusMethodNotAllowed, codeNotSupported,
		"The method "+truncate(c.Request.Method, 16)+" is not supported on this resource.", "")
}
