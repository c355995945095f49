package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/connops/connops/internal/app"
	"github.com/connops/connops/internal/auth"
	"github.com/connops/connops/internal/connections"
	"github.com/connops/connops/internal/pgtest"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	pgtest.Main(m)
}

const testSecret = "test-secret-0123456789abcdef-0123456789"

// env is one connops, built by the app builder as the binary builds it, on
// its own database and reached over real HTTP.
type env struct {
	t    *testing.T
	app  *app.App
	pool *pgxpool.Pool
	url  string
	vals map[string]string // the environment it was built with
}

func newEnv(t *testing.T) *env { return newAppEnv(t, nil, nil) }

// newAppEnv is newEnv with these environment variables set on top of the
// tests' defaults (rate limiting off), and the log written to logs
// (discarded when nil).
func newAppEnv(t *testing.T, vars map[string]string, logs io.Writer) *env {
	t.Helper()
	t.Parallel()
	if logs == nil {
		logs = io.Discard
	}
	dsn := pgtest.DSN(t)
	// LISTEN needs a session of its own, which PgBouncer in transaction
	// mode cannot give: the hub listens on the server directly, as
	// docs/scaling.md asks of a deployment behind PgBouncer.
	vals := map[string]string{"DATABASE_URL": dsn, "LISTEN_DATABASE_URL": pgtest.DirectDSN(t, dsn),
		"AUTH_HS256_SECRET": testSecret, "RATE_LIMIT_RPS": "0"}
	maps.Copy(vals, vars)
	return startApp(t, vals, logs)
}

// replica is another connops on e's database, as a second replica of a
// deployment: same environment, its own pool, hub and engine.
func (e *env) replica() *env {
	e.t.Helper()
	return startApp(e.t, e.vals, io.Discard)
}

func startApp(t *testing.T, vals map[string]string, logs io.Writer) *env {
	t.Helper()
	cfg, err := app.LoadConfig(func(k string) string { return vals[k] }, app.Need{Database: true, Auth: true})
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(t.Context(), cfg, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler)
	t.Cleanup(func() { srv.Close(); a.Close() })
	return &env{t: t, app: a, pool: a.Pool(), url: srv.URL, vals: vals}
}

// token signs a token for tenant and app with the given permissions.
func token(t *testing.T, tenant, app string, roles ...string) string {
	t.Helper()
	tok, err := auth.Issue([]byte(testSecret), auth.DevToken{TenantID: tenant, AppID: app, Roles: roles, TTL: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// writer is a tenant's app with full read-write permission on connections
// and on items, as a connector's app holds both.
func writer(t *testing.T, tenant string) string {
	return token(t, tenant, "app-"+tenant, connections.PermReadWriteAll, connections.PermItemReadWriteAll)
}

type response struct {
	status int
	header http.Header
	body   []byte
	closes bool // the server ends the connection with this answer
}

// json decodes the body as an object.
func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

type request struct {
	method, path, token, body string
	header                    map[string]string
}

func (e *env) send(r request) response {
	e.t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(context.Background(), r.method, e.url+r.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if r.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b, closes: res.Close}
}

func (e *env) post(path, token, body string) response {
	e.t.Helper()
	return e.send(request{method: http.MethodPost, path: path, token: token, body: body})
}

func (e *env) get(path, token string) response {
	e.t.Helper()
	return e.send(request{method: http.MethodGet, path: path, token: token})
}

// createConnection makes a connection and fails the test if that does not work.
func (e *env) createConnection(token, id string) {
	e.t.Helper()
	r := e.post("/v1.0/external/connections", token, `{"id":"`+id+`","name":"Connection `+id+`"}`)
	if r.status != http.StatusCreated {
		e.t.Fatalf("create connection %s: %d %s", id, r.status, r.body)
	}
}

func (e *env) count(sql string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) operationCount() int { return e.count(`SELECT count(*) FROM operations`) }

// wantError checks a Graph error answer: status, envelope, ids, content type.
func wantError(t *testing.T, r response, status int, code string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	body := r.json(t)
	e, ok := body["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error object: %s", r.body)
	}
	if e["code"] != code {
		t.Errorf("error.code = %v, want %s", e["code"], code)
	}
	if msg, _ := e["message"].(string); msg == "" {
		t.Errorf("error.message is empty")
	}
	inner, _ := e["innerError"].(map[string]any)
	date, _ := inner["date"].(string)
	if _, err := time.Parse("2006-01-02T15:04:05", date); err != nil {
		t.Errorf("innerError.date = %q, want YYYY-MM-DDTHH:MM:SS", date)
	}
	if inner["request-id"] == "" || inner["request-id"] != r.header.Get("request-id") {
		t.Errorf("innerError.request-id = %v, header %q", inner["request-id"], r.header.Get("request-id"))
	}
	if inner["client-request-id"] != r.header.Get("client-request-id") {
		t.Errorf("innerError.client-request-id = %v, header %q", inner["client-request-id"], r.header.Get("client-request-id"))
	}
	return e
}
