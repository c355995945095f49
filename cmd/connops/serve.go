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
	"time"

	"github.com/connops/connops/internal/app"
)

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	if err := parseFlags(fs, args, "connops serve   (configured by environment; see connops --help)", stdout, stderr); err != nil {
		return helpIsSuccess(err)
	}
	cfg, err := app.LoadConfig(getenv, app.Need{Database: true, Auth: true})
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
// get ShutdownTimeout to finish, then the App stops its jobs, drains its
// write queues and closes the pool. onListen, if set, learns the bound
// address.
func serve(ctx context.Context, cfg app.Config, log *slog.Logger, onListen func(addr string)) error {
	if err := app.Migrate(ctx, cfg, log); err != nil {
		return fmt.Errorf("migrate database: %w", err)
	}
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	if cfg.AdminAddr != "" {
		stopAdmin, err := serveAdmin(cfg.AdminAddr, log)
		if err != nil {
			return err
		}
		defer stopAdmin()
	}
	return serveHTTP(ctx, cfg, newHTTPServer(a.Handler, log), a, log, onListen)
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

func serveHTTP(ctx context.Context, cfg app.Config, srv *http.Server, a *app.App, log *slog.Logger, onListen func(string)) error {
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
	a.Drain()
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
