package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
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
	for _, args := range [][]string{{"--help"}, {"help"}, {"serve", "--help"}, {"migrate", "--help"}, {"token", "--help"}, {"dev", "--help"}, {"dev-cert", "--help"}, {"healthcheck", "--help"}} {
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
// a printed token that works over HTTP and, with the CA it prints, over
// HTTPS, a ready line that says the same, and clean-up on cancel.
func TestDevCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster")
	}
	dataDir := t.TempDir()
	d := startDev(t, []string{"dev", "--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0", "--data-dir", dataDir}, nil)

	// The banner, for people.
	out := d.out.String()
	token := regexp.MustCompile(`export TOKEN=(\S+)`).FindStringSubmatch(out)[1]
	base := regexp.MustCompile(`serving at (http://\S+)`).FindStringSubmatch(out)[1]
	for _, want := range []string{"NODE_EXTRA_CA_CERTS=" + d.ready["ca"], "SSL_CERT_FILE=" + d.ready["ca"], ".NET", d.ready["https"]} {
		if !strings.Contains(out, want) {
			t.Errorf("banner lacks %q:\n%s", want, out)
		}
	}
	// The ready line, for scripts, says the same.
	if d.ready["token"] != token || !strings.HasSuffix(d.ready["http"], base[strings.LastIndex(base, ":"):]) {
		t.Errorf("ready line %v disagrees with the banner (token %s, %s)", d.ready, token, base)
	}
	if d.ready["ca"] != filepath.Join(dataDir, "ca.pem") || d.ready["tenant"] != "contoso" {
		t.Errorf("ready line %v: want ca in %s and tenant contoso", d.ready, dataDir)
	}

	// The console's sign-in link carries the same token, in the fragment.
	if !strings.Contains(out, base+"/console/#token="+token+"\n") {
		t.Errorf("no console sign-in link with the token:\n%s", out)
	}
	res, err := http.Get(base + "/console/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("GET /console/ = %d, CSP %q", res.StatusCode, res.Header.Get("Content-Security-Policy"))
	}

	post := func(client *http.Client, url, body string) int {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := post(http.DefaultClient, base+"/beta/connections", `{"id":"contosohr","name":"Contoso HR"}`); got != http.StatusCreated {
		t.Fatalf("create connection = %d", got)
	}
	if got := post(http.DefaultClient, base+"/beta/connections/contosohr/operations", `{"status":"inprogress"}`); got != http.StatusCreated {
		t.Fatalf("create operation = %d", got)
	}
	secure := clientTrustingFile(t, d.ready["ca"])
	if got := post(secure, d.ready["https"]+"/beta/connections/contosohr/operations", `{"status":"inprogress"}`); got != http.StatusCreated {
		t.Fatalf("create operation over HTTPS = %d", got)
	}
	if err := d.stop(); err != nil {
		t.Errorf("dev returned %v", err)
	}
}

// devRun is connops dev running in this process.
type devRun struct {
	out   *syncBuffer
	ready map[string]string
	stop  func() error // cancels dev and waits for it
}

// startDev runs connops dev with args and env until its ready line.
func startDev(t *testing.T, args []string, env map[string]string) *devRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, envOf(env), out, io.Discard) }()
	stopped := false
	d := &devRun{out: out, stop: func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		case <-time.After(60 * time.Second):
			return errors.New("dev did not stop")
		}
	}}
	t.Cleanup(func() { _ = d.stop() })
	deadline := time.Now().Add(90 * time.Second)
	for {
		if line, ok := lastLine(out.String()); ok && strings.HasPrefix(line, "connops dev ready ") {
			d.ready = parseReadyLine(t, line)
			return d
		}
		select {
		case err := <-done:
			stopped = true
			t.Fatalf("dev exited early: %v\n%s", err, out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ready line:\n%s", out.String())
		}
	}
}

// lastLine is the last complete line of s.
func lastLine(s string) (string, bool) {
	s, ok := strings.CutSuffix(s, "\n")
	if !ok {
		return "", false
	}
	return s[strings.LastIndex(s, "\n")+1:], true
}

// parseReadyLine reads the documented format: "connops dev ready" then
// key=value fields, a value double-quoted when it holds a space or quote.
func parseReadyLine(t *testing.T, line string) map[string]string {
	t.Helper()
	rest := strings.TrimPrefix(line, "connops dev ready ")
	fields := map[string]string{}
	for rest != "" {
		key, value, ok := strings.Cut(rest, "=")
		if !ok || key == "" || strings.Contains(key, " ") {
			t.Fatalf("ready line field %q is not key=value: %s", rest, line)
		}
		if strings.HasPrefix(value, `"`) {
			quoted, err := strconv.QuotedPrefix(value)
			if err != nil {
				t.Fatalf("ready line value of %s: %v", key, err)
			}
			rest = strings.TrimPrefix(value[len(quoted):], " ")
			value, _ = strconv.Unquote(quoted)
		} else {
			value, rest, _ = strings.Cut(value, " ")
		}
		fields[key] = value
	}
	return fields
}

// clientTrustingFile is an HTTP client whose only root is the PEM at path.
func clientTrustingFile(t *testing.T, path string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", path)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
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
