package tracing

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// GroupStart starts the span of one statement written on behalf of several
// requests (the store's grouped creates): a new root span linked to each
// member request's span, so every request's trace leads to the statement
// that wrote its row, and the statement's span lists all of them. It
// returns ctx unchanged when tracing is off.
func (t *Tracing) GroupStart(ctx context.Context, members []context.Context) (context.Context, func()) {
	if !t.Enabled() {
		return ctx, func() {}
	}
	links := make([]trace.Link, 0, len(members))
	for _, m := range members {
		if sc := trace.SpanContextFromContext(m); sc.IsValid() {
			links = append(links, trace.Link{SpanContext: sc})
		}
	}
	ctx, span := t.tracer.Start(ctx, "operations.create_group",
		trace.WithNewRoot(), trace.WithLinks(links...), trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(attribute.Int("connops.group.size", len(members))))
	// And the other way: each request's span links to the statement's.
	for _, m := range members {
		trace.SpanFromContext(m).AddLink(trace.Link{SpanContext: span.SpanContext()})
	}
	return ctx, func() { span.End() }
}
