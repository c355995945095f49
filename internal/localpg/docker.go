package localpg

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Image is the PostgreSQL image that containers run. It is pinned to the
// production major so development and tests see the same planner, SQL
// features and error codes as production.
const Image = "postgres:15-alpine"

// dockerProbeTimeout keeps the probe cheap on machines without an engine,
// where callers fall back to a local cluster.
const dockerProbeTimeout = 1500 * time.Millisecond

// dockerWaitDelay is how long a docker command may hold its output open after
// ctx killed it. Without a bound, a child that inherited stdout (a CLI
// plugin, say) would keep us waiting past ctx, and the probe past its limit.
const dockerWaitDelay = 250 * time.Millisecond

// containerReadyTimeout bounds the wait for a started container to accept
// connections. It is longer than readyTimeout because the image runs initdb
// first, which is slow in Docker Desktop's VM or under an emulated CPU.
const containerReadyTimeout = time.Minute

// containerRemoveTimeout bounds removing a container we could not set up;
// that runs when the caller's context may already have ended.
const containerRemoveTimeout = 30 * time.Second

// DockerAvailable reports whether the docker command is on PATH and a Docker
// engine answers it. It returns false within about dockerProbeTimeout when no
// engine is reachable.
func DockerAvailable(ctx context.Context) bool { return probeDocker(ctx) == nil }

// Provision returns a PostgreSQL server for development: a container when
// the docker command reaches an engine (opts is then used only for Log),
// else a local cluster started with opts. The DSN names the postgres
// database; cleanup stops the server and removes what was created.
func Provision(ctx context.Context, opts Options) (dsn string, cleanup func(context.Context) error, err error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	probeErr := probeDocker(ctx)
	if probeErr == nil {
		log.InfoContext(ctx, "starting postgres container", slog.String("image", Image))
		return startContainer(ctx, log)
	}
	log.InfoContext(ctx, "docker not available; starting a local postgres cluster", slog.String("reason", probeErr.Error()))
	c, err := Start(ctx, opts)
	if err != nil {
		return "", nil, err
	}
	cleanup = func(ctx context.Context) error { return errors.Join(c.Stop(ctx), c.Close()) }
	return c.DSN("postgres"), cleanup, nil
}

// probeDocker returns why Docker cannot be used, or nil when it can.
func probeDocker(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, dockerProbeTimeout)
	defer cancel()
	// The client prints its own version without an engine; asking for the
	// server's makes it reach one, and is cheaper than `docker info`.
	_, err := docker(ctx, nil, "version", "--format", "{{.Server.Version}}")
	return err
}

// startContainer runs a PostgreSQL container and returns the DSN of its
// postgres database and a function that removes the container. On error
// nothing is left behind.
func startContainer(ctx context.Context, log *slog.Logger) (dsn string, stop func(context.Context) error, err error) {
	// The name is ours before docker run answers, so a run that fails or is
	// cancelled halfway can still be cleaned up.
	name := "localpg-" + randomHex(6)
	dsn, err = runContainer(ctx, log, name, randomHex(16))
	if err != nil {
		rmCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), containerRemoveTimeout)
		defer cancel()
		return "", nil, errors.Join(err, removeContainer(rmCtx, name))
	}
	return dsn, func(ctx context.Context) error { return removeContainer(ctx, name) }, nil
}

func runContainer(ctx context.Context, log *slog.Logger, name, password string) (string, error) {
	// -e without a value has docker copy POSTGRES_PASSWORD from its own
	// environment, which keeps the password out of argv, where any local
	// user can read it. 127.0.0.1::5432 publishes on a random loopback port
	// only: a development database must not face the network. --rm
	// lets the engine remove a container that stops without us, say across
	// a reboot.
	id, err := docker(ctx, []string{"POSTGRES_PASSWORD=" + password},
		"run", "-d", "--rm", "--name", name, "-e", "POSTGRES_PASSWORD", "-p", "127.0.0.1::5432", Image)
	if err != nil {
		return "", fmt.Errorf("start postgres container: %w", err)
	}
	log.InfoContext(ctx, "postgres container started", slog.String("name", name), slog.String("id", id))
	out, err := docker(ctx, nil, "port", name, "5432/tcp")
	if err != nil {
		return "", fmt.Errorf("postgres container address: %w", err)
	}
	port, err := parsePort(out)
	if err != nil {
		return "", fmt.Errorf("postgres container address: %w", err)
	}
	// Always loopback: that is where we asked for the port, and some
	// engines report the binding as 0.0.0.0 regardless.
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword("postgres", password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Path:     "/postgres",
		RawQuery: "sslmode=disable",
	}
	dsn := u.String()
	start := time.Now()
	if err := waitContainerReady(ctx, name, dsn); err != nil {
		return "", err
	}
	log.InfoContext(ctx, "postgres ready", slog.String("port", strconv.Itoa(port)), slog.String("took", time.Since(start).String()))
	return dsn, nil
}

// parsePort picks the host port out of `docker port` output: one binding a
// line, such as "127.0.0.1:49153" or "[::]:49153".
func parsePort(out string) (int, error) {
	for line := range strings.Lines(out) {
		_, p, err := net.SplitHostPort(strings.TrimSpace(line))
		if err != nil {
			continue
		}
		if n, err := strconv.Atoi(p); err == nil && n > 0 {
			return n, nil
		}
	}
	return 0, fmt.Errorf("no host port in docker port output %q", out)
}

// waitContainerReady polls until the server accepts a TCP connection. The
// image's entrypoint runs a temporary server for initialization that
// listens on a Unix socket only, so the first TCP connection that works is
// to the final server.
func waitContainerReady(ctx context.Context, name, dsn string) error {
	ctx, cancel := context.WithTimeout(ctx, containerReadyTimeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		err := ping(ctx, dsn)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for postgres container %s: %w (last attempt: %v)%s", name, ctx.Err(), err, containerLogs(ctx, name))
		case <-tick.C:
		}
	}
}

// containerLogs returns the end of the container's log, formatted to be
// appended to an error, because why a server did not start is only there.
func containerLogs(ctx context.Context, name string) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dockerProbeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", "logs", "--tail", "20", name)
	cmd.WaitDelay = dockerWaitDelay
	// postgres logs to stderr, so both streams are the log.
	out, _ := cmd.CombinedOutput() // on error, out says why: "No such container" and the like
	if ctx.Err() != nil || len(bytes.TrimSpace(out)) == 0 {
		return ""
	}
	return fmt.Sprintf("\nlast lines of docker logs %s:\n%s", name, bytes.TrimRight(out, "\n"))
}

// removeContainer kills and removes the container. -v also removes the
// anonymous volume the image declares for its data directory, which would
// otherwise outlive every run. docker rm -f succeeds when the container is
// already gone.
func removeContainer(ctx context.Context, name string) error {
	if _, err := docker(ctx, nil, "rm", "-f", "-v", name); err != nil {
		return fmt.Errorf("remove postgres container %s: %w", name, err)
	}
	return nil
}

// docker runs the docker command, with env added to its environment, and
// returns its trimmed standard output. The error carries what docker wrote
// to standard error, where it says what went wrong.
func docker(ctx context.Context, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", args...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.WaitDelay = dockerWaitDelay
	out, err := cmd.Output()
	if err != nil {
		var exit *exec.ExitError
		switch {
		case ctx.Err() != nil:
			err = ctx.Err()
		case errors.As(err, &exit) && len(bytes.TrimSpace(exit.Stderr)) > 0:
			err = fmt.Errorf("%w: %s", err, bytes.TrimSpace(exit.Stderr))
		}
		return "", fmt.Errorf("docker %s: %w", args[0], err)
	}
	return strings.TrimSpace(string(out)), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b)
}
