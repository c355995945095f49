package tracing

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func TestTracesURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, endpoint, want string
	}{
		{"base", "http://collector:4318", "http://collector:4318/v1/traces"},
		{"trailing slash", "http://collector:4318/", "http://collector:4318/v1/traces"},
		{"path prefix", "https://otel.example.com/otlp", "https://otel.example.com/otlp/v1/traces"},
	}
	for _, tt := range tests {
		got, err := tracesURL(tt.endpoint)
		if err != nil || got != tt.want {
			t.Errorf("%s: tracesURL(%q) = %q, %v; want %q", tt.name, tt.endpoint, got, err, tt.want)
		}
	}
	for _, bad := range []string{"collector:4318", "grpc://collector:4317", "http://", "://x"} {
		if got, err := tracesURL(bad); err == nil {
			t.Errorf("tracesURL(%q) = %q; want an error", bad, got)
		}
	}
}

func TestOperation(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"SELECT 1":                          "SELECT",
		"\n\t\tinsert into t values ($1)":   "INSERT",
		"-- name: list\nWITH x AS (SELECT)": "WITH",
		"SELECT\t1":                         "SELECT",
		"":                                  "postgresql",
	}
	for sql, want := range tests {
		if got := operation(sql); got != want {
			t.Errorf("operation(%q) = %q, want %q", sql, got, want)
		}
	}
}

type flakyExporter struct {
	sdktrace.SpanExporter
	errs []error
}

func (f *flakyExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error {
	err := f.errs[0]
	f.errs = f.errs[1:]
	return err
}

func TestLoggingExporterLogsTransitionsOnly(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	down := errors.New("connection refused")
	e := &loggingExporter{
		SpanExporter: &flakyExporter{errs: []error{down, down, down, nil, nil}},
		log:          slog.New(slog.NewTextHandler(&buf, nil)),
	}
	for range 5 {
		if err := e.ExportSpans(t.Context(), nil); err != nil {
			t.Fatalf("ExportSpans returned %v; want errors logged, not returned", err)
		}
	}
	if n := strings.Count(buf.String(), "exporting traces failed"); n != 1 {
		t.Errorf("logged the failure %d times, want once:\n%s", n, buf.String())
	}
	if n := strings.Count(buf.String(), "exporting traces recovered"); n != 1 {
		t.Errorf("logged the recovery %d times, want once:\n%s", n, buf.String())
	}
}
