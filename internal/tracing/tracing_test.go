package tracing_test

import (
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/connops/connops/internal/pgtest"
	"github.com/connops/connops/internal/tracing"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	pgtest.Main(m)
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestDisabledIsPassThrough(t *testing.T) {
	t.Parallel()
	tr, err := tracing.Setup(t.Context(), "", discard())
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	if tr.Enabled() {
		t.Error("Enabled() = true with no endpoint")
	}
	next := http.NewServeMux()
	if got := tr.Handler(next); got != http.Handler(next) {
		t.Errorf("Handler returned %T, want next itself", got)
	}
	if got := tr.PgxTracer(); got != nil {
		t.Errorf("PgxTracer() = %T, want nil", got)
	}

	engine := gin.New()
	engine.Use(tr.GinMiddleware())
	engine.GET("/x", func(c *gin.Context) { c.Status(http.StatusTeapot) })
	rec := httptest.NewRecorder()
	engine.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	if rec.Code != http.StatusTeapot {
		t.Errorf("through disabled GinMiddleware: status %d, want %d", rec.Code, http.StatusTeapot)
	}

	if err := tr.Shutdown(t.Context()); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	var nilTracing *tracing.Tracing
	if nilTracing.Enabled() || nilTracing.PgxTracer() != nil || nilTracing.Shutdown(t.Context()) != nil {
		t.Error("nil *Tracing is not disabled")
	}
}

func TestSetupRejectsEndpointWithoutScheme(t *testing.T) {
	t.Parallel()
	if _, err := tracing.Setup(t.Context(), "collector:4318", discard()); err == nil {
		t.Error("Setup(collector:4318) succeeded; want an error asking for an http(s) URL")
	}
}

// The statement the handler runs, and argument values that must never reach
// the collector.
const (
	statement  = "SELECT $1::text || '-suffix'"
	secretArg  = "tenant-secret-value-7f3a"
	badUUIDArg = "tenant-secret-not-a-uuid-91c2"
	traceID    = "4bf92f3577b34da6a3ce929d0e0e4736"
	parentSpan = "00f067aa0ba902b7"
)

func TestEnabledExportsHTTPAndSQLSpans(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	col := newCollector(t)
	tr, err := tracing.Setup(ctx, col.URL, discard())
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	if !tr.Enabled() {
		t.Fatal("Enabled() = false with an endpoint")
	}

	cfg, err := pgxpool.ParseConfig(pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.Tracer = tr.PgxTracer()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	engine := gin.New()
	engine.Use(tr.GinMiddleware())
	engine.GET("/things/:id", func(c *gin.Context) {
		rctx := c.Request.Context()
		var s string
		if err := pool.QueryRow(rctx, statement, secretArg).Scan(&s); err != nil {
			c.String(http.StatusInternalServerError, err.Error())
			return
		}
		// A failing query whose server error quotes its argument.
		var u string
		if err := pool.QueryRow(rctx, "SELECT $1::uuid::text", badUUIDArg).Scan(&u); err == nil {
			c.String(http.StatusInternalServerError, "bad uuid accepted")
			return
		}
		c.String(http.StatusOK, s)
	})
	// Mounted under a ServeMux as in cmd/connops/serve.go, whose "/" pattern
	// must not replace the gin route in the span name.
	mux := http.NewServeMux()
	mux.Handle("/", engine)
	h := tr.Handler(mux)

	req := httptest.NewRequest(http.MethodGet, "/things/conn-123", nil)
	req.Header.Set("traceparent", "00-"+traceID+"-"+parentSpan+"-01")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET: status %d, body %q", rec.Code, rec.Body)
	}

	if err := tr.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}

	spans := col.spans()
	server := findSpan(t, spans, tracepb.Span_SPAN_KIND_SERVER, "GET /things/:id")
	if got := hex.EncodeToString(server.GetTraceId()); got != traceID {
		t.Errorf("server span trace ID %s, want the incoming %s", got, traceID)
	}
	if got := hex.EncodeToString(server.GetParentSpanId()); got != parentSpan {
		t.Errorf("server span parent %s, want the incoming %s", got, parentSpan)
	}
	if got, _ := attr(server.GetAttributes(), "http.route"); got != "/things/:id" {
		t.Errorf("server span http.route = %q, want /things/:id", got)
	}
	if got, _ := attr(server.resource, "service.name"); got != "connops" {
		t.Errorf("resource service.name = %q, want connops", got)
	}

	sql := findSpan(t, spans, tracepb.Span_SPAN_KIND_CLIENT, "SELECT")
	if got, _ := attr(sql.GetAttributes(), "db.query.text"); got != statement {
		t.Errorf("SQL span db.query.text = %q, want %q", got, statement)
	}
	if got, _ := attr(sql.GetAttributes(), "db.system.name"); got != "postgresql" {
		t.Errorf("SQL span db.system.name = %q, want postgresql", got)
	}
	if string(sql.GetTraceId()) != string(server.GetTraceId()) || string(sql.GetParentSpanId()) != string(server.GetSpanId()) {
		t.Error("SQL span is not a child of the server span")
	}

	var failed *tracepb.Span
	for _, s := range spans {
		if v, _ := attr(s.GetAttributes(), "db.query.text"); v == "SELECT $1::uuid::text" {
			failed = s.Span
		}
	}
	if failed == nil {
		t.Fatal("no span for the failing query")
	}
	if failed.GetStatus().GetCode() != tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("failing query status %v, want ERROR", failed.GetStatus().GetCode())
	}
	if got, _ := attr(failed.GetAttributes(), "db.response.status_code"); got != "22P02" {
		t.Errorf("failing query db.response.status_code = %q, want 22P02", got)
	}

	for _, secret := range []string{secretArg, badUUIDArg} {
		if col.received(secret) {
			t.Errorf("collector received argument value %q", secret)
		}
	}
}

func findSpan(t *testing.T, spans []exportedSpan, kind tracepb.Span_SpanKind, name string) exportedSpan {
	t.Helper()
	for _, s := range spans {
		if s.GetKind() == kind && s.GetName() == name {
			return s
		}
	}
	var got []string
	for _, s := range spans {
		got = append(got, s.GetKind().String()+" "+s.GetName())
	}
	t.Fatalf("no %v span named %q; got %q", kind, name, got)
	return exportedSpan{}
}

// A request the engine serves inside another, as $batch does, must not
// rename the outer span.
func TestNestedDispatchGetsChildSpan(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	col := newCollector(t)
	tr, err := tracing.Setup(ctx, col.URL, discard())
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	engine := gin.New()
	engine.Use(tr.GinMiddleware())
	engine.GET("/things/:id", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	engine.POST("/batch", func(c *gin.Context) {
		sub, _ := http.NewRequestWithContext(c.Request.Context(), http.MethodGet, "/things/a", nil)
		engine.ServeHTTP(httptest.NewRecorder(), sub)
		c.Status(http.StatusOK)
	})
	tr.Handler(engine).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/batch", nil))
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}

	spans := col.spans()
	outer := findSpan(t, spans, tracepb.Span_SPAN_KIND_SERVER, "POST /batch")
	inner := findSpan(t, spans, tracepb.Span_SPAN_KIND_INTERNAL, "GET /things/:id")
	if string(inner.GetParentSpanId()) != string(outer.GetSpanId()) {
		t.Error("sub-request span is not a child of the batch span")
	}
	if got, _ := attr(outer.GetAttributes(), "http.route"); got != "/batch" {
		t.Errorf("outer http.route = %q, want /batch", got)
	}
}
