package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/connops/connops/internal/app"
	"github.com/connops/connops/internal/auth"
	"github.com/connops/connops/internal/connections"
)

func runToken(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	tenant := fs.String("tenant", "", "tenant id (tid claim); required")
	appID := fs.String("app", "connops-dev", "client app id (appid claim)")
	roles := fs.String("roles", connections.PermReadWriteAll+","+connections.PermItemReadWriteAll, "comma-separated application permissions (roles claim)")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid")
	synopsis := "connops token --tenant T [--app A] [--roles R1,R2] [--ttl 1h]   (signs with AUTH_HS256_SECRET)"
	if err := parseFlags(fs, args, synopsis, stdout, stderr); err != nil {
		return helpIsSuccess(err)
	}
	if *tenant == "" {
		return fmt.Errorf("--tenant is required")
	}
	if *ttl <= 0 {
		return fmt.Errorf("--ttl must be positive")
	}
	cfg, err := app.LoadConfig(getenv, app.Need{Secret: true})
	if err != nil {
		return err
	}
	token, err := auth.Issue(cfg.HS256Secret, auth.DevToken{
		TenantID: *tenant, AppID: *appID, Roles: app.SplitList(*roles), TTL: *ttl,
	}, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, token)
	return nil
}
