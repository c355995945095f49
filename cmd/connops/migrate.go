package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/connops/connops/internal/app"
	"github.com/connops/connops/internal/postgres"
)

const migrateSynopsis = `connops migrate up|status

  up      apply every pending embedded migration (under the MIGRATION_LOCK lock)
  status  list the embedded migrations and when each was applied`

func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	if err := parseFlags(fs, args, migrateSynopsis, stdout, stderr); err != nil {
		return helpIsSuccess(err)
	}
	if fs.NArg() != 1 || (fs.Arg(0) != "up" && fs.Arg(0) != "status") {
		fmt.Fprintf(stderr, "Usage: %s\n", migrateSynopsis)
		return errUsage
	}
	cfg, err := app.LoadConfig(getenv, app.Need{Database: true})
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)
	if fs.Arg(0) == "up" {
		if err := postgres.Migrate(ctx, cfg.DatabaseURL, log, migrationLock(cfg)); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "migrations are up to date")
		return nil
	}
	states, err := postgres.MigrationStatus(ctx, cfg.DatabaseURL, log, migrationLock(cfg))
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tSTATE\tAPPLIED AT\tSOURCE")
	for _, s := range states {
		state, at := "pending", "-"
		if s.Applied {
			state, at = "applied", s.AppliedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", s.Version, state, at, s.Source)
	}
	return tw.Flush()
}

// migrationLock passes MIGRATION_LOCK through to the migrator.
func migrationLock(cfg app.Config) postgres.MigrateOption {
	return postgres.WithMigrationLock(postgres.MigrationLock(cfg.MigrationLock))
}
