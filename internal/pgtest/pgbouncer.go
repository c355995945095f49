package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/connops/connops/internal/localpg"
)

// With PGTEST_PGBOUNCER=1 the tests reach their databases through a PgBouncer
// in transaction-pooling mode, as production may: every transaction can land
// on a different server connection, so anything that leans on session state
// (session advisory locks, SET, prepared statements) shows up as a failure.
// Only the tests' own connections go through it. Creating, migrating and
// dropping databases stay direct, because CREATE DATABASE ... TEMPLATE needs
// the template free of sessions, and DROP DATABASE ... WITH (FORCE) ends the
// server connections PgBouncer keeps to a test's database, so drops do not
// wait for its idle timeout.
const bouncerEnv = "PGTEST_PGBOUNCER"

// bouncerQueryExecMode is what pgx must use through a PgBouncer older than
// 1.21, which cannot carry named prepared statements between transactions:
// one round trip with an unnamed statement, nothing cached per connection.
const bouncerQueryExecMode = "exec"

// bouncer is one running pgbouncer process.
type bouncer struct {
	port    int
	user    string // the server role every client is logged in as
	dir     string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{}
}

func bouncerWanted() bool { return os.Getenv(bouncerEnv) == "1" }

// findBouncer looks on PATH, then where Debian installs it (/usr/sbin is
// often not on a non-root PATH).
func findBouncer() (string, error) {
	if p, err := exec.LookPath("pgbouncer"); err == nil {
		return p, nil
	}
	if fi, err := os.Stat("/usr/sbin/pgbouncer"); err == nil && !fi.IsDir() {
		return "/usr/sbin/pgbouncer", nil
	}
	return "", fmt.Errorf("%w: %s=1 but pgbouncer is not installed (apt-get install pgbouncer)", errUnavailable, bouncerEnv)
}

// startBouncer starts pgbouncer in front of the server adminDSN points at.
// auth_type=any logs every client in as the admin DSN's role (and password,
// when it has one), whatever user the client names.
func startBouncer(ctx context.Context, adminDSN string) (*bouncer, error) {
	bin, err := findBouncer()
	if err != nil {
		return nil, err
	}
	target, err := pgconn.ParseConfig(adminDSN)
	if err != nil {
		return nil, fmt.Errorf("parse server DSN: %w", err)
	}
	runAs, err := localpg.ServiceAccount()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest-pgbouncer-")
	if err != nil {
		return nil, fmt.Errorf("create pgbouncer dir: %w", err)
	}
	b := &bouncer{port: port, user: target.User, dir: dir, logPath: filepath.Join(dir, "pgbouncer.log"), done: make(chan struct{})}
	confPath := filepath.Join(dir, "pgbouncer.ini")
	if err := os.WriteFile(confPath, []byte(bouncerConfig(target, port)), 0o600); err != nil {
		return nil, errors.Join(fmt.Errorf("write pgbouncer config: %w", err), os.RemoveAll(dir))
	}
	if err := runAs.Own(dir, confPath); err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	logFile, err := os.Create(b.logPath)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("create pgbouncer log: %w", err), os.RemoveAll(dir))
	}
	defer logFile.Close()
	b.cmd = exec.Command(bin, confPath)
	b.cmd.Dir = dir
	b.cmd.Stdout, b.cmd.Stderr = logFile, logFile
	b.cmd.SysProcAttr = runAs.SysProcAttr(syscall.SIGTERM)
	if err := b.cmd.Start(); err != nil {
		return nil, errors.Join(fmt.Errorf("start pgbouncer: %w", err), os.RemoveAll(dir))
	}
	go func() {
		_ = b.cmd.Wait()
		close(b.done)
	}()
	if err := b.waitReady(ctx); err != nil {
		return nil, errors.Join(err, b.stop())
	}
	return b, nil
}

// bouncerConfig pools by transaction, accepts any database name (the
// wildcard entry, so per-test databases need no reload) and lets enough
// clients in for parallel tests, while max_user_connections keeps the server
// side under PostgreSQL's default max_connections of 100.
func bouncerConfig(target *pgconn.Config, port int) string {
	server := fmt.Sprintf("host=%s port=%d user=%s", target.Host, target.Port, target.User)
	if target.Password != "" {
		server += " password=" + quoteConnValue(target.Password)
	}
	return fmt.Sprintf(`[databases]
* = %s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = any
pool_mode = transaction
max_client_conn = 2000
default_pool_size = 10
max_user_connections = 60
server_login_retry = 1
ignore_startup_parameters = extra_float_digits,statement_timeout
log_connections = 0
log_disconnections = 0
`, server, port)
}

// quoteConnValue quotes a libpq keyword value.
func quoteConnValue(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// waitReady polls until a query goes through pgbouncer to the server.
func (b *bouncer) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var lastErr error
	for {
		select {
		case <-b.done:
			return fmt.Errorf("pgbouncer exited at start%s", b.logTail())
		default:
		}
		lastErr = b.ping(ctx)
		if lastErr == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pgbouncer not ready: %w%s", lastErr, b.logTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (b *bouncer) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, b.dsn("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, "SELECT 1")
	return err
}

// dsn is the URL of database name through pgbouncer.
func (b *bouncer) dsn(name string) string {
	u := url.URL{Scheme: "postgres", User: url.User(b.user), Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port)), Path: "/" + name}
	u.RawQuery = url.Values{"sslmode": {"disable"}, "default_query_exec_mode": {bouncerQueryExecMode}}.Encode()
	return u.String()
}

// stop shuts pgbouncer down at once (SIGTERM is its immediate shutdown) and
// removes its directory.
func (b *bouncer) stop() error {
	if b.cmd.Process != nil {
		_ = b.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-b.done:
		case <-time.After(5 * time.Second):
			_ = b.cmd.Process.Kill()
			<-b.done
		}
	}
	return os.RemoveAll(b.dir)
}

func (b *bouncer) logTail() string {
	out, err := os.ReadFile(b.logPath)
	if err != nil || len(out) == 0 {
		return ""
	}
	const max = 2000
	if len(out) > max {
		out = out[len(out)-max:]
	}
	return "\npgbouncer log:\n" + string(out)
}

// freePort asks the kernel for an unused port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
