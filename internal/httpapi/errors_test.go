package httpapi_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/connops/connops/internal/auth"
	"github.com/connops/connops/internal/connections"
	"github.com/connops/connops/internal/httpapi"
	"github.com/connops/connops/internal/pgtest"
	"github.com/connops/connops/internal/postgres"
)

func TestEveryFailureIsAGraphError(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")

	wantError(t, e.get("/v1.0/nothing/here", tok), http.StatusNotFound, "resourceNotFound")
	wantError(t, e.get("/v2.0/connections", tok), http.StatusNotFound, "resourceNotFound")
	wantError(t, e.send(request{method: http.MethodPut, path: "/v1.0/connections/contosohr", token: tok, body: `{}`}),
		http.StatusMethodNotAllowed, "notSupported")

	r := e.send(request{method: http.MethodGet, path: "/v1.0/connections/none", token: tok,
		header: map[string]string{"client-request-id": "my-correlation-id"}})
	got := wantError(t, r, http.StatusNotFound, "itemNotFound")
	if r.header.Get("client-request-id") != "my-correlation-id" {
		t.Errorf("client-request-id header = %q", r.header.Get("client-request-id"))
	}
	if inner := got["innerError"].(map[string]any); inner["client-request-id"] != "my-correlation-id" {
		t.Errorf("innerError = %v", inner)
	}
	if r.header.Get("request-id") == "" || r.header.Get("request-id") == "my-correlation-id" {
		t.Errorf("request-id = %q", r.header.Get("request-id"))
	}
}

func TestHealthAndReadiness(t *testing.T) {
	e := newEnv(t)
	if r := e.get("/healthz", ""); r.status != http.StatusOK {
		t.Errorf("healthz: %d", r.status)
	}
	if r := e.get("/readyz", ""); r.status != http.StatusOK {
		t.Errorf("readyz: %d %s", r.status, r.body)
	}
}

// panicking is a service whose every call panics, to prove a panic still
// reaches the client as a Graph 500 without detail.
type panicking struct{ *connections.Service }

func (panicking) GetConnection(context.Context, connections.Caller, string) (connections.Connection, error) {
	panic("secret internal detail")
}

func TestPanicIsAGraph500(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := httpapi.New(httpapi.Config{}, panicking{}, auth.NewHS256([]byte(testSecret)), nil, log)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	e := &env{t: t, url: srv.URL}
	r := e.get("/v1.0/connections/contosohr", writer(t, "contoso"))
	got := wantError(t, r, http.StatusInternalServerError, "generalException")
	if got["message"] == "secret internal detail" {
		t.Errorf("panic value leaked: %v", got["message"])
	}
}

// TestDatabaseDownIs503 points the service at a port where nothing listens.
func TestDatabaseDownIs503(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	pool, err := pgxpool.New(context.Background(), "postgres://postgres@"+addr+"/none?sslmode=disable&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ready, _ := postgres.NewReadiness(pool)
	h, err := httpapi.New(httpapi.Config{}, connections.NewService(postgres.NewStore(pool), log, connections.Options{}), auth.NewHS256([]byte(testSecret)), ready, log)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	e := &env{t: t, url: srv.URL}

	r := e.post("/v1.0/connections/contosohr/operations", writer(t, "contoso"), `{}`)
	wantError(t, r, http.StatusServiceUnavailable, "serviceNotAvailable")
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	wantError(t, e.get("/readyz", ""), http.StatusServiceUnavailable, "serviceNotAvailable")
	if r := e.get("/healthz", ""); r.status != http.StatusOK {
		t.Errorf("healthz depends on the database: %d", r.status)
	}
}

func TestReadinessNeedsMigrations(t *testing.T) {
	t.Parallel()
	pool, err := pgxpool.New(context.Background(), pgtest.EmptyDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	ready, _ := postgres.NewReadiness(pool)
	if err := ready.Check(context.Background()); err == nil {
		t.Fatal("an unmigrated database reads as ready")
	}
	if err := postgres.Migrate(context.Background(), pgtest.EmptyDSN(t), slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
}
