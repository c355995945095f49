package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/connops/connops/internal/app"
	"github.com/connops/connops/internal/auth"
	"github.com/connops/connops/internal/connections"
	"github.com/connops/connops/internal/localpg"
)

const devTenant = "contoso"

const devSynopsis = `connops dev

Starts connops for local development with no setup: uses DATABASE_URL if set,
otherwise a throwaway PostgreSQL (a container when a Docker engine is reachable,
else a private cluster from the PostgreSQL binaries on this machine), migrates
it, prints a token, a sign-in link to the console and a curl example, and
serves until Ctrl-C. The throwaway database is removed on exit.`

func runDev(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	if err := parseFlags(fs, args, devSynopsis, stdout, stderr); err != nil {
		return helpIsSuccess(err)
	}
	cfg, err := app.LoadConfig(getenv, app.Need{})
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)
	if len(cfg.HS256Secret) == 0 {
		// A fresh secret each run: dev tokens die with the dev server.
		secret := make([]byte, 32)
		_, _ = rand.Read(secret)
		cfg.HS256Secret = []byte(hex.EncodeToString(secret))
	}
	if cfg.DatabaseURL == "" {
		log.InfoContext(ctx, "starting a throwaway PostgreSQL")
		dsn, cleanup, err := localpg.Provision(ctx, localpg.Options{Log: log})
		if err != nil {
			return fmt.Errorf("start a development database (or set DATABASE_URL): %w", err)
		}
		defer func() {
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if err := cleanup(stopCtx); err != nil {
				log.WarnContext(stopCtx, "removing the development database", slog.String("error", err.Error()))
			}
		}()
		cfg.DatabaseURL = dsn
	}
	token, err := auth.Issue(cfg.HS256Secret, auth.DevToken{
		TenantID: devTenant, AppID: "connops-dev", Roles: []string{connections.PermReadWriteAll, connections.PermItemReadWriteAll}, TTL: 24 * time.Hour,
	}, time.Now())
	if err != nil {
		return err
	}
	return serve(ctx, cfg, log, func(addr string) { printDevBanner(stdout, addr, token) })
}

func printDevBanner(w io.Writer, addr, token string) {
	_, port, _ := net.SplitHostPort(addr)
	base := "http://localhost:" + port
	fmt.Fprintf(w, `
connops dev is serving at %[1]s (Ctrl-C stops it and removes the throwaway database)

Dev token (tenant %[3]q, ExternalConnection.ReadWrite.All and ExternalItem.ReadWrite.All, valid 24h):

export TOKEN=%[2]s

Console, signed in with that token (it stays in the browser: the part after # is never sent):

%[1]s/console/#token=%[2]s

Try it:

curl -s -X POST %[1]s/beta/connections -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' -d '{"id":"contosohr","name":"Contoso HR"}'

curl -si -X POST %[1]s/beta/connections/contosohr/operations -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' \
  -d '{"@odata.type":"#microsoft.graph.connectionOperation","status":"inprogress","error":{"@odata.type":"microsoft.graph.errorDetail"}}'

`, base, token, devTenant)
}
