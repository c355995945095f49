package localpg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// process is one run of the postmaster. done closes once it has exited and
// waitErr holds what Wait reported.
type process struct {
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
}

// crashGrace is how long an immediate shutdown may take before we kill the
// process group. The postmaster itself SIGKILLs stuck children after 5 s.
const crashGrace = 10 * time.Second

func (c *Cluster) initdb(ctx context.Context) error {
	if _, err := os.Stat(filepath.Join(c.dataDir, "PG_VERSION")); err == nil {
		c.log.InfoContext(ctx, "reusing existing cluster", slog.String("data", c.dataDir))
		return nil
	}
	logFile, err := c.openLog()
	if err != nil {
		return err
	}
	defer logFile.Close()
	// --no-sync: a throwaway cluster need not survive power loss, and syncing
	// every catalog file costs seconds. --no-locale keeps sorting and startup
	// independent of the host's locale setup.
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, "initdb"),
		"-D", c.dataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync")
	cmd.Dir = c.dir // the caller's cwd may be unreadable for the server user
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = c.user.SysProcAttr(syscall.SIGQUIT)
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("initdb %s: %w%s", c.dataDir, err, c.logTail())
	}
	c.log.InfoContext(ctx, "cluster initialized", slog.String("data", c.dataDir), slog.String("took", time.Since(start).String()))
	return nil
}

// Restart starts the server on the existing data directory and port, after
// Stop or Crash, and waits until it accepts connections.
func (c *Cluster) Restart(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc != nil && !c.proc.exited() {
		return errors.New("start postgres: already running")
	}
	c.proc = nil
	if err := checkPortFree(c.port); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	p, err := c.spawn()
	if err != nil {
		return err
	}
	start := time.Now()
	if err := c.waitReady(ctx, p); err != nil {
		killGroup(p)
		<-p.done
		return err
	}
	c.proc = p
	c.log.InfoContext(ctx, "postgres ready", slog.String("port", strconv.Itoa(c.port)), slog.String("took", time.Since(start).String()))
	return nil
}

func (c *Cluster) spawn() (*process, error) {
	logFile, err := c.openLog()
	if err != nil {
		return nil, err
	}
	// A direct child rather than pg_ctl, so that we hold its pid, see it exit,
	// and can signal it without pg_ctl's own waiting and pid-file races.
	cmd := exec.Command(filepath.Join(c.bin, "postgres"), c.serverArgs()...)
	cmd.Dir = c.dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = c.user.SysProcAttr(syscall.SIGQUIT)
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

func (c *Cluster) serverArgs() []string {
	settings := map[string]string{
		"listen_addresses": "127.0.0.1",
		// A process crash keeps written pages in the OS cache, so fsync only
		// protects against power loss, which a throwaway cluster never has
		// to survive; turning it off makes commits and checkpoints cheap.
		"fsync": "off",
	}
	maps.Copy(settings, c.settings)
	args := []string{"-D", c.dataDir, "-p", strconv.Itoa(c.port), "-k", c.socketDir}
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		args = append(args, "-c", k+"="+settings[k])
	}
	return args
}

func (c *Cluster) waitReady(ctx context.Context, p *process) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := ping(ctx, c.DSN("postgres")); err == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("postgres exited during startup: %v%s", p.waitErr, c.logTail())
		case <-ctx.Done():
			return fmt.Errorf("wait for postgres on port %d: %w%s", c.port, ctx.Err(), c.logTail())
		case <-tick.C:
		}
	}
}

func ping(ctx context.Context, dsn string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.Ping(ctx)
}

// Stop shuts the server down fast (SIGINT: roll back open transactions,
// checkpoint, exit) and waits for it. If ctx ends first it kills the server.
func (c *Cluster) Stop(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.proc
	if p == nil {
		return nil
	}
	c.proc = nil
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		killGroup(p)
		<-p.done
		return fmt.Errorf("stop postgres: %w", ctx.Err())
	}
}

// Crash stops the server the way a crash would: immediate shutdown
// (SIGQUIT) with no checkpoint, so the next start runs crash recovery. If the
// server lingers, its process group is killed.
func (c *Cluster) Crash() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.proc
	if p == nil {
		return nil
	}
	c.proc = nil
	_ = p.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-p.done:
	case <-time.After(crashGrace):
		killGroup(p)
		<-p.done
	}
	return nil
}

func killGroup(p *process) {
	// Negative pid: the group made by Setpgid. Errors mean it is already gone.
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (c *Cluster) openLog() (*os.File, error) {
	f, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open server log: %w", err)
	}
	return f, nil
}

// logTail returns the end of the server log, formatted to be appended to an
// error, because the reason a server did not start is only ever there.
func (c *Cluster) logTail() string {
	const maxBytes = 2048
	data, err := os.ReadFile(c.logPath)
	if err != nil || len(data) == 0 {
		return ""
	}
	if len(data) > maxBytes {
		data = data[len(data)-maxBytes:]
		if i := strings.IndexByte(string(data), '\n'); i >= 0 {
			data = data[i+1:]
		}
	}
	return fmt.Sprintf("\nlast lines of %s:\n%s", c.logPath, strings.TrimRight(string(data), "\n"))
}
