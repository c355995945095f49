package main

import (
	"context"
	"crypto/tls"
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
	"github.com/connops/connops/internal/certs"
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

// serve migrates the database, then serves HTTP (HTTPS when TLS_CERT_FILE
// and TLS_KEY_FILE are set) on LISTEN_ADDR until ctx ends, then shuts down:
// readiness turns 503 first, the listener closes, requests in flight get
// ShutdownTimeout to finish, then the App stops its jobs, drains its write
// queues and closes the pool. onListen, if set, learns the bound address.
func serve(ctx context.Context, cfg app.Config, log *slog.Logger, onListen func(addr string)) error {
	var tlsConfig *tls.Config
	if cfg.TLSCertFile != "" {
		// Loaded before anything else, so a bad pair stops the process
		// before it touches the database.
		reloader, err := certs.NewReloader(cfg.TLSCertFile, cfg.TLSKeyFile, log)
		if err != nil {
			return fmt.Errorf("TLS_CERT_FILE and TLS_KEY_FILE: %w", err)
		}
		tlsConfig = reloader.TLSConfig()
	}
	// Bound only once the App is built: both probes are refused while
	// migrations run (docs/operations.md says so).
	bind := func() ([]listener, error) {
		ln, err := listen("LISTEN_ADDR", cfg.ListenAddr, tlsConfig)
		if err != nil {
			return nil, err
		}
		return []listener{ln}, nil
	}
	return serveApp(ctx, cfg, log, bind, func(lns []listener) {
		if onListen != nil {
			onListen(lns[0].Addr().String())
		}
	})
}

// listener is a bound socket serve answers on: HTTPS when tls is set, else
// plain HTTP.
type listener struct {
	net.Listener
	tls *tls.Config
}

// listen binds addr; name is what an error calls it (a variable or a flag).
func listen(name, addr string, tlsConfig *tls.Config) (listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return listener{}, fmt.Errorf("listen on %s %s: %w", name, addr, err)
	}
	return listener{Listener: ln, tls: tlsConfig}, nil
}

// URL is the base URL a client on this machine reaches l at: the bound IP
// when the address names one, else localhost, which the development
// certificate covers.
func (l listener) URL() string {
	scheme := "http"
	if l.tls != nil {
		scheme = "https"
	}
	host, port, _ := net.SplitHostPort(l.Addr().String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// serveApp is serve with the binding left to the caller: bind returns the
// listeners to serve on (serve binds LISTEN_ADDR there; dev returns the
// ones it bound before starting its database), and onListen runs once all
// of them serve.
func serveApp(ctx context.Context, cfg app.Config, log *slog.Logger, bind func() ([]listener, error), onListen func([]listener)) error {
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
	lns, err := bind()
	if err != nil {
		return err
	}
	return serveHTTP(ctx, cfg, newHTTPServer(a.Handler, log), a, log, lns, onListen)
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

// serveHTTP serves srv on every listener until ctx ends or one of them
// fails. One server owns them all, so Shutdown drains them together.
func serveHTTP(ctx context.Context, cfg app.Config, srv *http.Server, a *app.App, log *slog.Logger, lns []listener, onListen func([]listener)) error {
	for _, ln := range lns {
		// One TLS configuration per process (the certificate files of
		// serve, or the development CA's pair in dev), set before any
		// listener serves.
		if ln.tls != nil {
			srv.TLSConfig = ln.tls
		}
	}
	// Shutdown answers the waits under way instead of waiting them out.
	srv.RegisterOnShutdown(a.ReleaseWaits)
	serveErr := make(chan error, len(lns))
	for _, ln := range lns {
		log.InfoContext(ctx, "serving", slog.String("addr", ln.Addr().String()), slog.Bool("tls", ln.tls != nil))
		if ln.tls == nil {
			go func() { serveErr <- srv.Serve(ln) }()
		} else {
			go func() { serveErr <- srv.ServeTLS(ln, "", "") }()
		}
	}
	if onListen != nil {
		onListen(lns)
	}
	select {
	case err := <-serveErr:
		_ = srv.Close()
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
	for range lns {
		if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve HTTP: %w", err)
		}
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
