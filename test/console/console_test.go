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
	env := append(os.Environ(),
		"CONSOLE_BASE_URL="+srv.URL,
		"CONSOLE_ARTIFACTS="+artifacts,
		"CHROMIUM="+chromium(),
		// The operator: reads and writes everything in tenant contoso, and
		// may finish the operations connops starts.
		"CONSOLE_TOKEN="+token(t, "contoso", time.Now(), connections.PermReadWriteAll, connections.PermOperationsControl),
		"CONSOLE_READER_TOKEN="+token(t, "contoso", time.Now(), connections.PermReadAll),
		"CONSOLE_NO_PERMISSION_TOKEN="+token(t, "contoso", time.Now()),
		"CONSOLE_OTHER_TENANT_TOKEN="+token(t, "fabrikam", time.Now(), connections.PermReadAll),
		"CONSOLE_EXPIRED_TOKEN="+token(t, "contoso", time.Now().Add(-2*time.Hour), connections.PermReadAll),
	)

	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	files, err := filepath.Glob("*.test.js")
	if err != nil || len(files) == 0 {
		t.Fatalf("no *.test.js here (%v)", err)
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
func token(t *testing.T, tenant string, issued time.Time, roles ...string) string {
	t.Helper()
	tok, err := auth.Issue([]byte(secret), auth.DevToken{
		TenantID: tenant, AppID: "console-e2e", Roles: roles, TTL: time.Hour,
	}, issued)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
