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
	"time"

	"github.com/gin-gonic/gin"

	"github.com/connops/connops/internal/auth"
	"github.com/connops/connops/internal/connections"
	"github.com/connops/connops/internal/httpapi"
	"github.com/connops/connops/internal/postgres"
)

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	if err := parseFlags(fs, args, "connops serve   (configured by environment; see connops --help)", stdout, stderr); err != nil {
		return helpIsSuccess(err)
	}
	cfg, err := loadConfig(getenv, true, true)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)
	return serve(ctx, cfg, log, nil)
}

// newLogger builds the process logger: JSON lines, one handler for all.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// serve migrates the database, then serves HTTP until ctx ends, then shuts
// down: the listener closes, requests in flight get ShutdownTimeout to finish,
// and the pool closes last. onListen, if set, learns the bound address.
func serve(ctx context.Context, cfg config, log *slog.Logger, onListen func(addr string)) error {
	migrateCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	err := postgres.Migrate(migrateCtx, cfg.DatabaseURL, log)
	cancel()
	if err != nil {
		return fmt.Errorf("migrate database: %w", err)
	}
	pool, err := postgres.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer pool.Close()
	ready, err := postgres.NewReadiness(pool)
	if err != nil {
		return err
	}

	gin.SetMode(gin.ReleaseMode)
	svc := connections.NewService(postgres.NewStore(pool), log)
	handler := httpapi.New(httpapi.Config{PublicBaseURL: cfg.PublicBaseURL},
		svc, auth.NewHS256(cfg.HS256Secret), ready, log)

	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
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

	log.InfoContext(ctx, "shutting down", slog.Duration("timeout", cfg.ShutdownTimeout))
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

func helpIsSuccess(err error) error {
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}
