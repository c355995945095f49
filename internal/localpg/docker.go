package localpg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"
)

// Image is the PostgreSQL image that containers run. It is pinned to the
// production major so development and tests see the same planner, SQL
// features and error codes as production.
const Image = "postgres:15-alpine"

// dockerProbeTimeout keeps the probe cheap on machines without an engine,
// where callers fall back to a local cluster.
const dockerProbeTimeout = 1500 * time.Millisecond

// DockerAvailable reports whether a Docker engine answers a ping. It returns
// false within about dockerProbeTimeout when no engine is reachable.
func DockerAvailable(ctx context.Context) (ok bool) {
	ctx, cancel := context.WithTimeout(ctx, dockerProbeTimeout)
	defer cancel()
	// testcontainers has Must* helpers that panic on odd host setups; a probe
	// must answer false instead.
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return false
	}
	defer cli.Close()
	// The client constructor falls back to DOCKER_HOST defaults without
	// checking them, so only a ping proves an engine is there.
	_, err = cli.Ping(ctx, client.PingOptions{})
	return err == nil
}

// StartContainer runs a PostgreSQL container and returns the DSN of its
// postgres database and a function that removes the container.
func StartContainer(ctx context.Context) (dsn string, stop func(context.Context) error, err error) {
	c, err := tcpostgres.Run(ctx, Image,
		tcpostgres.WithDatabase("postgres"),
		tcpostgres.WithUsername("postgres"),
		tcpostgres.WithPassword("postgres"),
		tcpostgres.BasicWaitStrategies(),
	)
	if err != nil {
		// Run can return a created but unready container; remove it.
		if c != nil {
			_ = c.Terminate(context.WithoutCancel(ctx))
		}
		return "", nil, fmt.Errorf("start postgres container: %w", err)
	}
	stop = func(ctx context.Context) error { return c.Terminate(ctx) }
	dsn, err = c.ConnectionString(ctx, "sslmode=disable")
	if err != nil {
		_ = stop(context.WithoutCancel(ctx))
		return "", nil, fmt.Errorf("postgres container address: %w", err)
	}
	return dsn, stop, nil
}

// Provision returns a PostgreSQL server for development: a container when
// Docker is available (opts is then unused), else a local cluster started
// with opts. The DSN names the postgres database; cleanup stops the server
// and removes what was created.
func Provision(ctx context.Context, opts Options) (dsn string, cleanup func(context.Context) error, err error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if DockerAvailable(ctx) {
		log.InfoContext(ctx, "starting postgres container", slog.String("image", Image))
		return StartContainer(ctx)
	}
	log.InfoContext(ctx, "docker not available; starting a local postgres cluster")
	c, err := Start(ctx, opts)
	if err != nil {
		return "", nil, err
	}
	cleanup = func(ctx context.Context) error { return errors.Join(c.Stop(ctx), c.Close()) }
	return c.DSN("postgres"), cleanup, nil
}
