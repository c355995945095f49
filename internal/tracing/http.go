package tracing

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric/noop"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// Handler wraps next so each request gets a server span, continuing the
// trace of an incoming traceparent header. The span is named by method
// alone until GinMiddleware names the route: the raw path would make one
// span name per connection ID. Disabled, it returns next itself.
func (t *Tracing) Handler(next http.Handler) http.Handler {
	if !t.Enabled() {
		return next
	}
	traced := otelhttp.NewHandler(next, "http.server",
		otelhttp.WithTracerProvider(t.provider),
		otelhttp.WithPropagators(t.propagators),
		// Metrics are Prometheus' job here; noop keeps otelhttp off the
		// global meter provider.
		otelhttp.WithMeterProvider(noop.NewMeterProvider()),
		otelhttp.WithSpanNameFormatter(spanName),
	)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithValue(r.Context(), routeKey{}, new(string))
		traced.ServeHTTP(w, r.WithContext(ctx))
	})
}

// GinMiddleware names the request's server span "METHOD /route/:template"
// and sets http.route, once gin has matched the route. Register it first on
// the engine with Use; it needs Handler around the engine. A request that
// the engine serves again inside the first ($batch sub-requests) gets a
// child span of its own instead of renaming the outer one. Disabled, it
// only calls c.Next.
func (t *Tracing) GinMiddleware() gin.HandlerFunc {
	if !t.Enabled() {
		return func(c *gin.Context) { c.Next() }
	}
	return func(c *gin.Context) {
		route := c.FullPath()
		ctx := c.Request.Context()
		holder, ok := ctx.Value(routeKey{}).(*string)
		if route == "" || !ok {
			c.Next()
			return
		}
		name := c.Request.Method + " " + route
		if *holder == "" {
			*holder = route
			span := trace.SpanFromContext(ctx)
			span.SetName(name)
			span.SetAttributes(semconv.HTTPRoute(route))
			c.Next()
			return
		}
		ctx, span := t.tracer.Start(ctx, name, trace.WithAttributes(semconv.HTTPRoute(route)))
		defer span.End()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
		status := c.Writer.Status()
		span.SetAttributes(semconv.HTTPResponseStatusCode(status))
		if status >= http.StatusInternalServerError {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
	}
}

// routeKey holds a *string that GinMiddleware fills with the route template.
// otelhttp renames the span through spanName after the handler returns
// whenever an http.ServeMux has set r.Pattern (serve.go mounts gin under
// "/"); the holder keeps that rename from replacing the gin route with "/".
type routeKey struct{}

func spanName(_ string, r *http.Request) string {
	if holder, ok := r.Context().Value(routeKey{}).(*string); ok && *holder != "" {
		return r.Method + " " + *holder
	}
	return r.Method
}
