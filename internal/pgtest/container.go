package pgtest

import (
	"context"
	"fmt"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"

	"github.com/connops/connops/internal/localpg"
)

// dockerAvailable reports whether a Docker engine answers a ping. It returns
// false within about dockerProbeTimeout when no engine is reachable.
func dockerAvailable(ctx context.Context) (ok bool) {
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

// startContainer runs a PostgreSQL container (localpg's pinned image) and
// returns the DSN of its postgres database and a function that removes the
// container. It uses testcontainers rather than localpg's docker CLI path
// because the testcontainers reaper removes the container even when a test
// binary is killed; pgtest is linked into test binaries only, so the Docker
// SDK this brings stays out of the connops binary.
func startContainer(ctx context.Context) (dsn string, stop func(context.Context) error, err error) {
	c, err := tcpostgres.Run(ctx, localpg.Image,
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
