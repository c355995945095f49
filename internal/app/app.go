package app

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/connops/connops/internal/auth"
	"github.com/connops/connops/internal/changes"
	"github.com/connops/connops/internal/connections"
	"github.com/connops/connops/internal/console"
	"github.com/connops/connops/internal/engine"
	"github.com/connops/connops/internal/httpapi"
	"github.com/connops/connops/internal/odata"
	"github.com/connops/connops/internal/postgres"
	"github.com/connops/connops/internal/retention"
	"github.com/connops/connops/internal/telemetry"
	"github.com/connops/connops/internal/tenantgate"
	"github.com/connops/connops/internal/tracing"
	"github.com/connops/connops/internal/webhooks"
)

// App is one running connops over one database: its HTTP handler and the
// background jobs behind it.
type App struct {
	// Handler serves the API, the probes and /metrics.
	Handler http.Handler
	// Router is the API's own router inside Handler, for tests that list
	// its routes.
	Router http.Handler

	pool     *pgxpool.Pool
	store    *postgres.Store
	ready    *drainable
	waits    *httpapi.Waits
	closers  []func()
	stopJobs context.CancelFunc
	jobs     sync.WaitGroup
}

// readinessInterval is how often the database is checked for /readyz.
const readinessInterval = 2 * time.Second

// Migrate applies the embedded migrations under the configured lock.
func Migrate(ctx context.Context, cfg Config, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	return postgres.Migrate(ctx, cfg.DatabaseURL, log, postgres.WithMigrationLock(postgres.MigrationLock(cfg.MigrationLock)))
}

// New builds an App on a migrated database. Close releases what it holds;
// on error New has released everything itself.
func New(ctx context.Context, cfg Config, log *slog.Logger) (_ *App, err error) {
	a := &App{waits: httpapi.NewWaits()}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	tr, err := tracing.Setup(ctx, cfg.OTLPEndpoint, log)
	if err != nil {
		return nil, fmt.Errorf("set up tracing (OTEL_EXPORTER_OTLP_ENDPOINT): %w", err)
	}
	// Registered first, so it runs last: the spans of everything closed
	// before it are buffered by then.
	a.closers = append(a.closers, func() {
		flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tr.Shutdown(flushCtx); err != nil {
			log.Warn("flushing traces", slog.String("error", err.Error()))
		}
	})
	if a.pool, err = postgres.Open(ctx, cfg.DatabaseURL, postgres.OpenOptions{Tracer: tr.PgxTracer(), StatementTimeout: cfg.StatementTimeout}); err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	a.closers = append(a.closers, a.pool.Close)
	dbReady, err := postgres.StartReadiness(ctx, cfg.DatabaseURL, readinessInterval)
	if err != nil {
		return nil, fmt.Errorf("start readiness checks: %w", err)
	}
	a.closers = append(a.closers, dbReady.Close)
	a.ready = &drainable{inner: dbReady}

	jobsCtx, stopJobs := context.WithCancel(context.WithoutCancel(ctx))
	a.stopJobs = stopJobs
	verifier, err := auth.New(jobsCtx, auth.Options{HS256Secret: cfg.HS256Secret, JWKSURL: cfg.JWKSURL,
		Issuer: cfg.Issuer, Audience: cfg.Audience, Log: log})
	if err != nil {
		return nil, fmt.Errorf("configure token verification: %w", err)
	}
	a.closers = append(a.closers, func() { _ = verifier.Close() })

	tenantConcurrency := cfg.TenantConcurrency
	if tenantConcurrency == 0 {
		tenantConcurrency = max(1, int(a.pool.Config().MaxConns)/2)
	}
	gate := tenantgate.New(tenantConcurrency)
	// The store tells the hub of each commit; the hub reads the log
	// through the store. Nothing writes before both exist.
	var hub *changes.Hub
	a.store = postgres.NewStore(a.pool, postgres.StoreOptions{GroupStart: tr.GroupStart, Gate: gate,
		Changed: func(tenantID string) { hub.Changed(tenantID) }})
	hub = changes.New(a.store, changes.Options{ListenURL: or(cfg.ListenDatabaseURL, cfg.DatabaseURL), Log: log})
	a.closers = append(a.closers, a.store.Close)
	tokens, err := a.pageTokens(ctx, cfg)
	if err != nil {
		return nil, err
	}
	metrics := telemetry.New(a.pool)
	metrics.WatchGauge(hub.Watchers)
	eng := engine.New(a.store, engine.Options{Lease: cfg.EngineLease, Metrics: metrics, Log: log})
	hooks, signer, client, err := a.webhooks(ctx, cfg, metrics, log)
	if err != nil {
		return nil, err
	}
	hub.OnTenant(hooks.Changed)
	svc := connections.NewService(a.store, log, connections.Options{
		MaxConnectionsPerTenant: cfg.MaxConnections, IdempotencyTTL: cfg.IdempotencyTTL,
		MaxOperationsPerConnection: int64(cfg.MaxOperations),
		ProvisioningDelay:          cfg.ProvisioningDelay, ManualProvisioning: cfg.ManualProvisioning,
		WorkAdded: eng.Wake, MaxItemsPerConnection: int64(cfg.MaxItems),
		Changes: hub, Admit: gate.Acquire, ReadTimeout: cfg.RequestTimeout,
		Webhooks: client,
	})
	if gin.Mode() == gin.DebugMode {
		gin.SetMode(gin.ReleaseMode)
	}
	api, err := httpapi.New(httpapi.Config{
		PublicBaseURL: cfg.PublicBaseURL, RateLimit: cfg.RateLimit, RateBurst: cfg.RateBurst,
		RequestTimeout: cfg.RequestTimeout, TrustedProxies: cfg.TrustedProxy, Metrics: metrics,
		WaitMax: cfg.WaitMax, StreamHeartbeat: cfg.StreamHeartbeat,
		TenantGate: gate, PageTokens: tokens, Tracing: tr.GinMiddleware(),
		WebhookKeys: signer, Waits: a.waits,
	}, svc, verifier, a.ready, log)
	if err != nil {
		return nil, err
	}
	ui, err := console.New()
	if err != nil {
		return nil, err
	}
	a.Router = api
	// The console's static files sit beside the API, as /metrics does:
	// they are not API routes, so they stay out of its router and document.
	a.Handler = ui.Beside(withMetrics(metrics.Handler(), tr.Handler(api)))

	a.jobs.Add(4)
	go func() {
		defer a.jobs.Done()
		eng.Run(jobsCtx)
	}()
	go func() {
		defer a.jobs.Done()
		hooks.Run(jobsCtx)
	}()
	go func() {
		defer a.jobs.Done()
		hub.Run(jobsCtx)
	}()
	go func() {
		defer a.jobs.Done()
		retention.Job{Store: a.store, Age: cfg.OperationRetention, ChangeAge: cfg.ChangeRetention, Every: time.Minute, Batch: 1000,
			Log: log, Purged: metrics.Purged}.Run(jobsCtx)
	}()
	return a, nil
}

// pageTokens builds the $skiptoken codec from PAGE_TOKEN_KEYS, or from the
// key the replicas share through the database.
func (a *App) pageTokens(ctx context.Context, cfg Config) (*odata.TokenCodec, error) {
	keys := cfg.PageTokenKeys
	if len(keys) == 0 {
		var err error
		if keys, err = a.store.SharedSecrets(ctx, "page-token"); err != nil {
			return nil, err
		}
	}
	return odata.NewTokenCodec(keys...)
}

// webhooks builds the subscription deliveries: the client that dials
// receivers, the signer of their validation tokens (its key shared by the
// replicas through the database) and the engine.
func (a *App) webhooks(ctx context.Context, cfg Config, metrics *telemetry.Metrics, log *slog.Logger) (*webhooks.Engine, *webhooks.Signer, *webhooks.Client, error) {
	roots, err := loadCAs(cfg.WebhookCAFile)
	if err != nil {
		return nil, nil, nil, err
	}
	workers := cfg.WebhookWorkers
	perEndpoint := max(1, workers/2) // the client's connections and the engine's POSTs per receiver
	client := webhooks.NewClient(webhooks.ClientOptions{AllowPrivateNetworks: cfg.WebhookAllowPrivateNetworks, RootCAs: roots,
		PerEndpoint: perEndpoint})
	secrets, err := a.store.SharedSecrets(ctx, "webhook-signing")
	if err != nil {
		return nil, nil, nil, err
	}
	signer, err := webhooks.NewSigner(secrets, cfg.PublicBaseURL)
	if err != nil {
		return nil, nil, nil, err
	}
	hooks := webhooks.New(a.store, client, signer, webhooks.Options{Workers: workers, PerEndpoint: perEndpoint, Lease: cfg.WebhookLease,
		RetryWindow: cfg.WebhookRetryWindow, MaxDelay: cfg.WebhookRetryMaxDelay, Metrics: metrics, Log: log})
	return hooks, signer, client, nil
}

// loadCAs is the system's CAs plus those in file (none when empty).
func loadCAs(file string) (*x509.CertPool, error) {
	if file == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("WEBHOOK_CA_FILE: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("WEBHOOK_CA_FILE %s holds no PEM certificate", file)
	}
	return pool, nil
}

// withMetrics routes GET /metrics to the metrics handler and everything
// else to the API, exactly as sent: no path cleaning and no redirects in
// front of the API, which answers every path itself, in Graph's envelope.
func withMetrics(metrics, api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" {
			metrics.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
}

// Drain turns readiness to 503, ahead of shutdown, so load balancers stop
// sending new requests.
func (a *App) Drain() { a.ready.draining.Store(true) }

// ReleaseWaits answers every wait under way at once, and every later one
// without waiting; the server's shutdown calls it, so held waits do not
// keep it from finishing.
func (a *App) ReleaseWaits() { a.waits.Release() }

// waitsAnswerTimeout bounds how long Close lets released waits write.
const waitsAnswerTimeout = 5 * time.Second

// Close answers the waits under way, stops the background jobs, lets the
// write queues drain, and closes the pool; call it after the HTTP server
// has stopped (parked waits, which it does not see, answer here).
func (a *App) Close() {
	a.waits.Release()
	waitCtx, cancel := context.WithTimeout(context.Background(), waitsAnswerTimeout)
	_ = a.waits.Wait(waitCtx)
	cancel()
	if a.stopJobs != nil {
		a.stopJobs()
	}
	a.jobs.Wait()
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// Pool is the App's request pool, for tests that look at the rows.
func (a *App) Pool() *pgxpool.Pool { return a.pool }

// drainable is the readiness check with an off switch.
type drainable struct {
	inner    *postgres.Readiness
	draining atomic.Bool
}

var errDraining = errors.New("shutting down")

func (d *drainable) Ready() error {
	if d.draining.Load() {
		return errDraining
	}
	return d.inner.Ready()
}
