package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/connops/connops/internal/auth"
	"github.com/connops/connops/internal/connections"
	"github.com/connops/connops/internal/httpapi"
	"github.com/connops/connops/internal/postgres"
	"github.com/connops/connops/internal/retention"
	"github.com/connops/connops/internal/telemetry"
	"github.com/connops/connops/internal/tracing"
)

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	if err := parseFlags(fs, args, "connops serve   (configured by environment; see connops --help)", stdout, stderr); err != nil {
		return helpIsSuccess(err)
	}
	cfg, err := loadConfig(getenv, need{database: true, auth: true})
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)
	if getenv("GOGC") == "" {
		// The live heap is a few tens of MB; collecting a third as often
		// costs little memory and saves several percent of CPU per request
		// (see docs/performance.md). An explicit GOGC still wins.
		debug.SetGCPercent(300)
	}
	return serve(ctx, cfg, log, nil)
}

// newLogger builds the process logger: JSON lines, one handler for all.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// serve migrates the database, then serves HTTP until ctx ends, then shuts
// down: readiness turns 503 first, the listener closes, requests in flight
// get ShutdownTimeout to finish, background jobs stop, and the pool closes
// last. onListen, if set, learns the bound address.
func serve(ctx context.Context, cfg config, log *slog.Logger, onListen func(addr string)) error {
	migrateCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	err := postgres.Migrate(migrateCtx, cfg.DatabaseURL, log, migrationLock(cfg))
	cancel()
	if err != nil {
		return fmt.Errorf("migrate database: %w", err)
	}
	tr, err := tracing.Setup(ctx, cfg.OTLPEndpoint, log)
	if err != nil {
		return fmt.Errorf("set up tracing (OTEL_EXPORTER_OTLP_ENDPOINT): %w", err)
	}
	// Registered before the pool's Close, so it runs after the HTTP server,
	// the jobs and the pool have stopped and their last spans are buffered.
	defer func() {
		flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := tr.Shutdown(flushCtx); err != nil {
			log.WarnContext(ctx, "flushing traces", slog.String("error", err.Error()))
		}
	}()
	pool, err := postgres.Open(ctx, cfg.DatabaseURL, tr.PgxTracer())
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer pool.Close()
	dbReady, err := postgres.NewReadiness(pool)
	if err != nil {
		return err
	}
	ready := &drainable{inner: dbReady}

	// Jobs and the verifier's key refresh stop with jobsCtx, after the HTTP
	// server has drained but before the pool closes.
	jobsCtx, stopJobs := context.WithCancel(context.WithoutCancel(ctx))
	var jobs sync.WaitGroup
	defer jobs.Wait()
	defer stopJobs()

	verifier, err := auth.New(jobsCtx, auth.Options{HS256Secret: cfg.HS256Secret, JWKSURL: cfg.JWKSURL,
		Issuer: cfg.Issuer, Audience: cfg.Audience, Log: log})
	if err != nil {
		return fmt.Errorf("configure token verification: %w", err)
	}
	defer verifier.Close()

	metrics := telemetry.New(pool)
	store := postgres.NewStore(pool)
	svc := connections.NewService(store, log, connections.Options{
		MaxConnectionsPerTenant: cfg.MaxConnections, IdempotencyTTL: cfg.IdempotencyTTL,
		MaxOperationsPerConnection: int64(cfg.MaxOperations)})
	gin.SetMode(gin.ReleaseMode)
	api, err := httpapi.New(httpapi.Config{
		PublicBaseURL: cfg.PublicBaseURL, RateLimit: cfg.RateLimit, RateBurst: cfg.RateBurst,
		RequestTimeout: cfg.RequestTimeout, TrustedProxies: cfg.TrustedProxy, Metrics: metrics,
		Tracing: tr.GinMiddleware(),
	}, svc, verifier, ready, log)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", metrics.Handler())
	// Only the API is traced: scrapes of /metrics would drown the traces.
	mux.Handle("/", tr.Handler(api))

	jobs.Add(1)
	go func() {
		defer jobs.Done()
		retention.Job{Store: store, Age: cfg.OperationRetention, Every: time.Minute, Batch: 1000,
			Log: log, Purged: metrics.Purged}.Run(jobsCtx)
	}()
	if cfg.AdminAddr != "" {
		stopAdmin, err := serveAdmin(cfg.AdminAddr, log)
		if err != nil {
			return err
		}
		defer stopAdmin()
	}
	return serveHTTP(ctx, cfg, newHTTPServer(mux, log), ready, log, onListen)
}

func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

func serveHTTP(ctx context.Context, cfg config, srv *http.Server, ready *drainable, log *slog.Logger, onListen func(string)) error {
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen on LISTEN_ADDR %s: %w", cfg.ListenAddr, err)
	}
	log.InfoContext(ctx, "serving", slog.String("addr", ln.Addr().String()))
	if onListen != nil {
		onListen(ln.Addr().String())
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve HTTP: %w", err)
	case <-ctx.Done():
	}

	// Readiness fails first and the listener stays open for DrainDelay, so a
	// load balancer that polls /readyz stops routing here before connections
	// are refused. (Under Kubernetes the preStop sleep does the same job.)
	ready.drain()
	log.InfoContext(ctx, "draining", slog.Duration("delay", cfg.DrainDelay), slog.Duration("timeout", cfg.ShutdownTimeout))
	time.Sleep(cfg.DrainDelay)
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down HTTP: %w", err)
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve HTTP: %w", err)
	}
	log.InfoContext(ctx, "stopped")
	return nil
}

// drainable is the readiness check with an off switch: on shutdown it turns
// 503 before anything else, so load balancers stop sending new requests.
type drainable struct {
	inner    *postgres.Readiness
	draining atomic.Bool
}

var errDraining = errors.New("shutting down")

func (d *drainable) Check(ctx context.Context) error {
	if d.draining.Load() {
		return errDraining
	}
	return d.inner.Check(ctx)
}

func (d *drainable) drain() { d.draining.Store(true) }

// serveAdmin starts the profiling listener: off unless ADMIN_ADDR is set, and
// separate from the API port so it is never exposed by accident.
func serveAdmin(addr string, log *slog.Logger) (stop func(), err error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on ADMIN_ADDR %s: %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info("admin listener (pprof) serving", slog.String("addr", ln.Addr().String()))
	return func() { _ = srv.Close() }, nil
}

func helpIsSuccess(err error) error {
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}
