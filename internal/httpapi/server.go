// Package httpapi is the HTTP face of connops: Graph-shaped routes, bodies and
// errors over the connections service, built on Gin.
package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/connops/connops/internal/connections"
)

// Config holds what the HTTP layer needs from the process configuration.
type Config struct {
	// PublicBaseURL, when set, is the base of absolute links (Location,
	// @odata.context); otherwise they are built from the request.
	PublicBaseURL string
	// MaxBodyBytes caps request bodies; larger ones get 413.
	MaxBodyBytes int64
	// RateLimit is the sustained requests per second each tenant's app may
	// make, with bursts of RateBurst; 0 turns limiting off.
	RateLimit float64
	RateBurst int
	// RequestTimeout bounds how long a request may wait on the database.
	RequestTimeout time.Duration
	// TrustedProxies are the addresses whose X-Forwarded-For is believed.
	TrustedProxies []string
	// Metrics receives request and error counts; nil discards them.
	Metrics Metrics
	// Tracing, if set, runs first on every request (it names the trace span
	// by route).
	Tracing gin.HandlerFunc
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

// DefaultMaxBodyBytes fits the largest operation the domain limits allow with
// room to spare, and keeps a hostile body from costing real memory.
const DefaultMaxBodyBytes = 256 << 10

// service is what the handlers call; *connections.Service satisfies it.
type service interface {
	CreateConnection(ctx context.Context, caller connections.Caller, n connections.NewConnection, key *connections.IdempotencyKey) (connections.Connection, bool, error)
	GetConnection(ctx context.Context, caller connections.Caller, id string) (connections.Connection, error)
	ListConnections(ctx context.Context, caller connections.Caller, q connections.ListQuery) (connections.Page[connections.Connection], error)
	UpdateConnection(ctx context.Context, caller connections.Caller, id string, p connections.ConnectionPatch, pre *connections.Precondition) (connections.Connection, error)
	DeleteConnection(ctx context.Context, caller connections.Caller, id string) error
	CreateOperation(ctx context.Context, caller connections.Caller, connectionID string, n connections.NewOperation, key *connections.IdempotencyKey) (connections.Operation, bool, error)
	GetOperation(ctx context.Context, caller connections.Caller, connectionID, id string) (connections.Operation, error)
	ListOperations(ctx context.Context, caller connections.Caller, connectionID string, q connections.ListQuery) (connections.Page[connections.Operation], error)
	CountOperations(ctx context.Context, caller connections.Caller, connectionID string, f connections.Filter) (int64, error)
	UpdateOperation(ctx context.Context, caller connections.Caller, connectionID, id string, p connections.OperationPatch, pre *connections.Precondition) (connections.Operation, error)
	DeleteOperation(ctx context.Context, caller connections.Caller, connectionID, id string) error
}

// verifier turns a bearer token into a caller.
type verifier interface {
	Verify(ctx context.Context, token string) (connections.Caller, error)
}

// readiness reports whether the database is reachable and migrated.
type readiness interface {
	Check(ctx context.Context) error
}

type server struct {
	engine *gin.Engine
	limits *limiters
	cfg    Config
	svc    service
	auth   verifier
	ready  readiness
	log    *slog.Logger
}

// route says which of the four mounts of the API a handler serves: version
// root and entity-set path. The beta /connections mount keeps the seed's
// legacy representation; every other mount uses the current one.
type route struct {
	version string // "v1.0" or "beta"
	set     string // "connections" or "external/connections"
	legacy  bool
}

// New builds the HTTP handler.
func New(cfg Config, svc service, auth verifier, ready readiness, log *slog.Logger) (http.Handler, error) {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Metrics == nil {
		cfg.Metrics = noMetrics{}
	}
	s := &server{cfg: cfg, svc: svc, auth: auth, ready: ready, log: log,
		limits: newLimiters(cfg.RateLimit, cfg.RateBurst)}

	r := gin.New()
	s.engine = r
	r.HandleMethodNotAllowed = true
	// Redirects would answer API clients with non-Graph bodies.
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.ContextWithFallback = true
	// No proxy is trusted until one is configured: client IPs come from the
	// socket, not from a header any client can write.
	if err := r.SetTrustedProxies(cfg.TrustedProxies); err != nil {
		return nil, fmt.Errorf("trusted proxies: %w", err)
	}

	if cfg.Tracing != nil {
		r.Use(cfg.Tracing)
	}
	r.Use(withRequestIDs, s.logRequests, s.recoverPanics, s.withTimeout)
	r.NoRoute(func(c *gin.Context) {
		respondError(c, http.StatusNotFound, codeResourceNotFound, "No resource was found at this path.", "")
	})
	r.NoMethod(func(c *gin.Context) {
		respondError(c, http.StatusMethodNotAllowed, codeNotSupported,
			"The method "+c.Request.Method+" is not supported on this resource.", "")
	})

	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	r.GET("/openapi.json", s.openAPI)
	r.GET("/openapi.yaml", s.openAPI)

	for _, version := range []string{"v1.0", "beta"} {
		r.POST("/"+version+"/$batch", s.authenticate, s.rateLimit, negotiate, s.requireJSONBodyUpTo(batchBodyFactor), s.batch(version))
		for _, set := range []string{"connections", "external/connections"} {
			rt := route{version: version, set: set, legacy: version == "beta" && set == "connections"}
			g := r.Group("/"+version+"/"+set, s.authenticate, s.rateLimit, negotiate, applyPreferences, s.requireJSONBody)
			g.POST("", s.createConnection(rt))
			g.GET("", s.listConnections(rt))
			g.GET("/:connectionId", s.getConnection(rt))
			g.PATCH("/:connectionId", s.updateConnection(rt))
			g.DELETE("/:connectionId", s.deleteConnection)
			g.POST("/:connectionId/operations", s.createOperation(rt))
			g.GET("/:connectionId/operations", s.listOperations(rt))
			g.GET("/:connectionId/operations/$count", s.countOperations(rt))
			g.GET("/:connectionId/operations/:operationId", s.getOperation(rt))
			g.PATCH("/:connectionId/operations/:operationId", s.updateOperation(rt))
			g.DELETE("/:connectionId/operations/:operationId", s.deleteOperation(rt))
		}
	}
	return r, nil
}
