// Package console_test runs the console's browser tests: it starts connops
// on its own migrated PostgreSQL database, mints the tokens the tests sign in
// with, and runs the Node tests in this folder (playwright-core driving
// Debian's Chromium) against it.
package console_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/connops/connops/internal/app"
	"github.com/connops/connops/internal/auth"
	"github.com/connops/connops/internal/connections"
	"github.com/connops/connops/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const secret = "console-test-secret-0123456789abcdef-0123"

// chromium is where Debian's package puts the browser; CHROMIUM overrides it.
func chromium() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

func TestConsoleInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL, connops and Chromium")
	}
	if _, err := os.Stat(filepath.Join("node_modules", "playwright-core")); err != nil {
		t.Fatal("node_modules/playwright-core is missing: run `npm ci` in test/console first")
	}
	if _, err := os.Stat(chromium()); err != nil {
		t.Fatalf("no Chromium at %s (apt-get install chromium, or set CHROMIUM): %v", chromium(), err)
	}
	// Registrations stay inprogress until a test PATCHes them with the
	// control role, so every state change is the test's to make.
	vals := map[string]string{
		"DATABASE_URL":       pgtest.DSN(t),
		"AUTH_HS256_SECRET":  secret,
		"PROVISIONING_DELAY": "manual",
		"LOG_LEVEL":          "warn",
	}
	cfg, err := app.LoadConfig(func(k string) string { return vals[k] }, app.Need{Database: true, Auth: true})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	a, err := app.New(t.Context(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	srv := httptest.NewServer(a.Handler)
	t.Cleanup(srv.Close)

	artifacts, err := filepath.Abs("artifacts")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	operator := []string{connections.PermReadWriteAll, connections.PermItemReadWriteAll, connections.PermOperationsControl}
	env := append(os.Environ(),
		"CONSOLE_BASE_URL="+srv.URL,
		"CONSOLE_ARTIFACTS="+artifacts,
		"CHROMIUM="+chromium(),
		// The operator signs in: reads and writes everything in tenant
		// contoso, items too, and may finish the operations connops starts.
		// The tests seed data as another app, so the browser's requests
		// have a rate limit of their own.
		"CONSOLE_TOKEN="+token(t, "contoso", "console-e2e", now, operator...),
		"CONSOLE_SEED_TOKEN="+token(t, "contoso", "console-seed", now, operator...),
		"CONSOLE_READER_TOKEN="+token(t, "contoso", "console-e2e", now, connections.PermReadAll, connections.PermItemReadAll),
		"CONSOLE_NO_ITEMS_TOKEN="+token(t, "contoso", "console-e2e", now, connections.PermReadAll),
		"CONSOLE_NO_PERMISSION_TOKEN="+token(t, "contoso", "console-e2e", now),
		"CONSOLE_OTHER_TENANT_TOKEN="+token(t, "fabrikam", "console-e2e", now, connections.PermReadAll, connections.PermItemReadAll),
		"CONSOLE_EXPIRED_TOKEN="+token(t, "contoso", "console-e2e", now.Add(-2*time.Hour), connections.PermReadAll),
		// The live tests work in a tenant of their own.
		"CONSOLE_LIVE_TOKEN="+token(t, "northwind", "console-e2e", now, operator...),
		"CONSOLE_LIVE_SEED_TOKEN="+token(t, "northwind", "console-seed", now, operator...),
	)

	ctx, cancel := context.WithTimeout(t.Context(), 9*time.Minute)
	defer cancel()
	// CONSOLE_TESTS picks the files (a glob), to run one while working on it.
	pattern := "*.test.js"
	if p := os.Getenv("CONSOLE_TESTS"); p != "" {
		pattern = p
	}
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no %s here (%v)", pattern, err)
	}
	cmd := exec.CommandContext(ctx, "node", append([]string{"--test", "--test-concurrency=1", "--test-reporter=spec"}, files...)...)
	cmd.Env = env
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		t.Fatalf("browser tests: %v (screenshots in %s)", err, artifacts)
	}
}

// token mints a dev token, as `connops token` does, valid for an hour from
// issued.
func token(t *testing.T, tenant, app string, issued time.Time, roles ...string) string {
	t.Helper()
	tok, err := auth.Issue([]byte(secret), auth.DevToken{
		TenantID: tenant, AppID: app, Roles: roles, TTL: time.Hour,
	}, issued)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
