// Package localpg starts throwaway PostgreSQL servers for development and
// tests: a cluster run from the machine's own binaries, or a container when
// a Docker engine is reachable.
//
// Containers are driven through the docker command, not a Docker SDK or
// testcontainers: connops links this package for `connops dev`, and an SDK
// would put the whole Docker client into the production binary for that
// alone. The CLI is also all a machine with Docker is sure to have.
package localpg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// Options configures a local cluster.
type Options struct {
	// Dir is the parent of the data directory. Empty means a new temporary
	// directory that Close removes. When running as root, the server's OS user
	// must be able to reach Dir.
	Dir string
	// Port is the TCP port on 127.0.0.1; 0 picks a free one.
	Port int
	// Settings are extra server settings passed as -c name=value; they
	// override the defaults.
	Settings map[string]string
	// Log receives progress messages; nil discards them.
	Log *slog.Logger
}

// Cluster is a running (or stopped) local PostgreSQL server whose
// superuser is postgres with trust authentication.
type Cluster struct {
	dir       string
	dataDir   string
	socketDir string
	logPath   string
	port      int
	bin       string
	settings  map[string]string
	user      *Account
	log       *slog.Logger
	removeDir bool

	mu   sync.Mutex
	proc *process // nil while stopped
}

// readyTimeout bounds how long a start may take before we give up and show
// the server log; a healthy local start takes well under a second.
const readyTimeout = 30 * time.Second

// Start initializes a cluster under opts.Dir (unless one is already there)
// and starts its server, returning once it accepts connections.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	u, err := ServiceAccount()
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin, settings: opts.Settings, user: u, log: opts.Log, port: opts.Port}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if err := c.prepareDirs(opts.Dir); err != nil {
		_ = c.removeDirs()
		return nil, err
	}
	if c.port == 0 {
		if c.port, err = freePort(); err != nil {
			_ = c.removeDirs()
			return nil, err
		}
	}
	if err := c.initdb(ctx); err != nil {
		_ = c.removeDirs()
		return nil, err
	}
	if err := c.Restart(ctx); err != nil {
		_ = c.removeDirs()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) prepareDirs(dir string) error {
	if dir == "" {
		tmp, err := os.MkdirTemp("", "localpg-")
		if err != nil {
			return fmt.Errorf("create cluster dir: %w", err)
		}
		dir, c.removeDir = tmp, true
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create cluster dir: %w", err)
	}
	c.dir = dir
	// Check before we create or chown anything inside a caller's Dir.
	if err := c.user.checkReachable(filepath.Dir(dir)); err != nil {
		return err
	}
	c.dataDir = filepath.Join(dir, "data")
	c.logPath = filepath.Join(dir, "postgres.log")
	// The socket lives in its own short temp dir: Unix socket paths are
	// limited to about 100 bytes and test temp dirs are often longer.
	sock, err := os.MkdirTemp("", "localpg-sock-")
	if err != nil {
		return fmt.Errorf("create socket dir: %w", err)
	}
	c.socketDir = sock
	if err := os.MkdirAll(c.dataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	return c.user.Own(c.dir, c.dataDir, c.socketDir)
}

// removeDirs deletes what we created; a caller-supplied Dir is kept.
func (c *Cluster) removeDirs() error {
	var errs []error
	if c.socketDir != "" {
		errs = append(errs, os.RemoveAll(c.socketDir))
	}
	if c.removeDir && c.dir != "" {
		errs = append(errs, os.RemoveAll(c.dir))
	}
	return errors.Join(errs...)
}

// freePort asks the kernel for an unused port. Another process could take it
// before the server binds; that is rare enough for a throwaway cluster.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// checkPortFree fails when something already listens on port. Without it
// the readiness probe could reach that other server and report success.
func checkPortFree(port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("port %d is not free: %w", port, err)
	}
	return l.Close()
}

// DSN is the URL of database dbname on this cluster.
func (c *Cluster) DSN(dbname string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, dbname)
}

// Port is the TCP port the server listens on; it stays the same across
// restarts.
func (c *Cluster) Port() int { return c.port }

// Dir is the directory holding the data directory and the server log.
func (c *Cluster) Dir() string { return c.dir }

// Close stops the server if it is running and removes the directories Start
// created.
func (c *Cluster) Close() error {
	// Close has no context to honour; the bound keeps a wedged server from
	// hanging the caller, and Stop escalates to a kill when it runs out.
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	return errors.Join(c.Stop(ctx), c.removeDirs())
}
