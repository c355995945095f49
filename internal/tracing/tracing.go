// Package tracing sends OpenTelemetry traces of HTTP requests and SQL queries
// to an OTLP/HTTP collector. With no endpoint it is off: no exporter, no
// spans, and every hook it hands out is a pass-through.
//
// The provider is passed explicitly to each instrumentation; nothing is set
// on the otel globals.
package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"runtime/debug"
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// serviceName is the service.name resource attribute of every span.
const serviceName = "connops"

// instrumentationName names the tracer of the spans this package starts.
const instrumentationName = "github.com/connops/connops/internal/tracing"

// Tracing holds the tracer provider and propagator. A Tracing from Setup
// with an empty endpoint, or a nil *Tracing, is disabled.
type Tracing struct {
	provider    *sdktrace.TracerProvider
	tracer      trace.Tracer
	propagators propagation.TextMapPropagator
}

// Setup starts exporting spans to the OTLP/HTTP collector at endpoint, a
// base URL such as http://collector:4318 (spans go to its /v1/traces, as
// with OTEL_EXPORTER_OTLP_ENDPOINT). An empty endpoint disables tracing.
func Setup(ctx context.Context, endpoint string, log *slog.Logger) (*Tracing, error) {
	if endpoint == "" {
		return &Tracing{}, nil
	}
	tracesURL, err := tracesURL(endpoint)
	if err != nil {
		return nil, err
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(tracesURL))
	if err != nil {
		return nil, fmt.Errorf("create OTLP trace exporter: %w", err)
	}
	provider := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(&loggingExporter{SpanExporter: exp, log: log}),
		sdktrace.WithResource(newResource()),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())),
	)
	log.InfoContext(ctx, "tracing enabled", slog.String("endpoint", redact(tracesURL)))
	return &Tracing{
		provider:    provider,
		tracer:      provider.Tracer(instrumentationName),
		propagators: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	}, nil
}

// Enabled reports whether spans are recorded and exported.
func (t *Tracing) Enabled() bool { return t != nil && t.provider != nil }

// Shutdown exports the spans still buffered and stops the exporter. It
// waits at most until ctx ends.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if !t.Enabled() {
		return nil
	}
	if err := t.provider.Shutdown(ctx); err != nil {
		return fmt.Errorf("shut down tracing: %w", err)
	}
	return nil
}

// tracesURL turns the collector base URL into the traces URL, the way the
// OTLP spec derives it from OTEL_EXPORTER_OTLP_ENDPOINT.
func tracesURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("parse OTLP endpoint: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("OTLP endpoint %q: want an http:// or https:// URL such as http://collector:4318", redact(endpoint))
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/traces"
	u.RawPath = ""
	return u.String(), nil
}

// redact hides a password in the endpoint, should one be given there.
func redact(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// newResource describes this process without reading OTEL_RESOURCE_ATTRIBUTES
// or OTEL_SERVICE_NAME: configuration comes from cmd, not from the package.
func newResource() *resource.Resource {
	attrs := []attribute.KeyValue{semconv.ServiceName(serviceName)}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		attrs = append(attrs, semconv.ServiceVersion(bi.Main.Version))
	}
	return resource.NewWithAttributes(semconv.SchemaURL, attrs...)
}

// loggingExporter reports failed exports on our logger instead of the otel
// global error handler, once when exports start failing and once when they
// recover, so a collector outage does not flood the log.
type loggingExporter struct {
	sdktrace.SpanExporter
	log     *slog.Logger
	failing atomic.Bool
}

func (e *loggingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := e.SpanExporter.ExportSpans(ctx, spans)
	switch {
	case err != nil && !e.failing.Swap(true):
		e.log.WarnContext(ctx, "exporting traces failed; dropping spans until the collector answers",
			slog.Int("spans", len(spans)), slog.Any("error", err))
	case err == nil && e.failing.Swap(false):
		e.log.InfoContext(ctx, "exporting traces recovered")
	}
	// Returning the error would send it to the otel global error handler,
	// which writes to stderr past our logger; the batch is dropped either way.
	return nil
}
