package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connops/connops/internal/app"
	"github.com/connops/connops/internal/auth"
	"github.com/connops/connops/internal/pgtest"
	"github.com/connops/connops/internal/postgres"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// syncBuffer is a bytes.Buffer safe to read while the command writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestHelpOnEveryCommand(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"help"}, {"serve", "--help"}, {"migrate", "--help"}, {"token", "--help"}, {"dev", "--help"}} {
		var out bytes.Buffer
		if err := run(context.Background(), args, envOf(nil), &out, io.Discard); err != nil {
			t.Errorf("%v: %v", args, err)
		}
		if !strings.Contains(out.String(), "Usage") && !strings.Contains(out.String(), "connops") {
			t.Errorf("%v printed no usage: %q", args, out.String())
		}
	}
	if err := run(context.Background(), []string{"frobnicate"}, envOf(nil), io.Discard, io.Discard); err == nil {
		t.Error("an unknown command succeeded")
	}
}

func TestTokenCommand(t *testing.T) {
	var out bytes.Buffer
	env := envOf(map[string]string{"AUTH_HS256_SECRET": goodSecret})
	err := run(context.Background(), []string{"token", "--tenant", "contoso", "--app", "a1", "--roles", "ExternalConnection.Read.All", "--ttl", "10m"}, env, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	caller, err := auth.NewHS256([]byte(goodSecret)).Verify(context.Background(), strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatal(err)
	}
	if caller.TenantID != "contoso" || caller.AppID != "a1" || len(caller.Permissions) != 1 || caller.Permissions[0] != "ExternalConnection.Read.All" {
		t.Errorf("caller = %+v", caller)
	}
	if err := run(context.Background(), []string{"token"}, env, io.Discard, io.Discard); err == nil {
		t.Error("token without --tenant succeeded")
	}
}

func TestServeFailsClearlyWithoutDatabase(t *testing.T) {
	env := envOf(map[string]string{"DATABASE_URL": "postgres://postgres:pw@127.0.0.1:1/none?sslmode=disable&connect_timeout=2", "AUTH_HS256_SECRET": goodSecret})
	err := run(context.Background(), []string{"serve"}, env, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "database") {
		t.Fatalf("err = %v, want a database error", err)
	}
	if strings.Contains(err.Error(), "pw@") {
		t.Errorf("error leaks the DSN: %v", err)
	}
}

func TestMigrateCommands(t *testing.T) {
	dsn := pgtest.EmptyDSN(t)
	env := envOf(map[string]string{"DATABASE_URL": dsn})
	var out bytes.Buffer
	if err := run(context.Background(), []string{"migrate", "status"}, env, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "pending") {
		t.Errorf("status before up:\n%s", out.String())
	}
	if err := run(context.Background(), []string{"migrate", "up"}, env, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"migrate", "status"}, env, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "pending") || !strings.Contains(out.String(), "applied") {
		t.Errorf("status after up:\n%s", out.String())
	}
	if err := run(context.Background(), []string{"migrate", "sideways"}, env, io.Discard, io.Discard); err == nil {
		t.Error("migrate with a bad verb succeeded")
	}
}

// TestConcurrentMigrationsApplyOnce starts three migrators at once on an empty
// database, as replicas starting together would.
func TestConcurrentMigrationsApplyOnce(t *testing.T) {
	dsn := pgtest.EmptyDSN(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	errs := make(chan error, 3)
	for range 3 {
		go func() { errs <- postgres.Migrate(context.Background(), dsn, log) }()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	latest, _ := postgres.LatestVersion()
	var rows, distinct int64
	if err := conn.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT version_id) FROM goose_db_version WHERE version_id > 0`).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if rows != latest || distinct != latest {
		t.Errorf("goose_db_version has %d rows for %d versions, want %d each", rows, distinct, latest)
	}
}

func TestServeUntilCancelled(t *testing.T) {
	// Pool settings in the URL must reach the pool, not the server.
	cfg := app.Config{DatabaseURL: withParam(pgtest.EmptyDSN(t), "pool_max_conns", "3"), ListenAddr: "127.0.0.1:0",
		HS256Secret: []byte(goodSecret), ShutdownTimeout: 5 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), func(a string) { addrs <- a })
	}()
	var addr string
	select {
	case addr = <-addrs:
	case err := <-done:
		t.Fatal(err)
	}
	res, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("readyz = %d", res.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve returned %v after cancel", err)
	}
}

// TestDevCommand runs the newcomer's command end to end: a throwaway database,
// a printed token that works, and clean-up on cancel.
func TestDevCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	env := envOf(map[string]string{"LISTEN_ADDR": "127.0.0.1:0"})
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"dev"}, env, &out, io.Discard) }()

	tokenLine := regexp.MustCompile(`export TOKEN=(\S+)`)
	urlLine := regexp.MustCompile(`serving at (http://\S+)`)
	deadline := time.Now().Add(60 * time.Second)
	for !tokenLine.MatchString(out.String()) {
		select {
		case err := <-done:
			t.Fatalf("dev exited early: %v\n%s", err, out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no token printed:\n%s", out.String())
		}
	}
	token := tokenLine.FindStringSubmatch(out.String())[1]
	base := urlLine.FindStringSubmatch(out.String())[1]

	// The console's sign-in link carries the same token, in the fragment.
	if !strings.Contains(out.String(), base+"/console/#token="+token+"\n") {
		t.Errorf("no console sign-in link with the token:\n%s", out.String())
	}
	res, err := http.Get(base + "/console/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("GET /console/ = %d, CSP %q", res.StatusCode, res.Header.Get("Content-Security-Policy"))
	}

	post := func(path, body string) int {
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := post("/beta/connections", `{"id":"contosohr","name":"Contoso HR"}`); got != http.StatusCreated {
		t.Fatalf("create connection = %d", got)
	}
	if got := post("/beta/connections/contosohr/operations", `{"status":"inprogress"}`); got != http.StatusCreated {
		t.Fatalf("create operation = %d", got)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("dev returned %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("dev did not stop")
	}
}

// withParam adds a parameter to a URL or keyword/value DSN.
func withParam(dsn, key, value string) string {
	switch {
	case strings.Contains(dsn, "://") && strings.Contains(dsn, "?"):
		return dsn + "&" + key + "=" + value
	case strings.Contains(dsn, "://"):
		return dsn + "?" + key + "=" + value
	}
	return dsn + " " + key + "=" + value
}

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

const goodSecret = "0123456789abcdef0123456789abcdef"
