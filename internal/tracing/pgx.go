package tracing

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// PgxTracer returns the tracer to set as pgx.ConnConfig.Tracer, or nil when
// tracing is disabled (pgx then skips tracing entirely). Spans carry the
// statement text but never its arguments, which may hold tenant data.
func (t *Tracing) PgxTracer() pgx.QueryTracer {
	if !t.Enabled() {
		return nil
	}
	return &queryTracer{tracer: t.tracer}
}

type queryTracer struct {
	tracer trace.Tracer
}

var (
	_ pgx.QueryTracer = (*queryTracer)(nil)
	_ pgx.BatchTracer = (*queryTracer)(nil)
)

func (q *queryTracer) TraceQueryStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	ctx, _ = q.start(ctx, conn, operation(data.SQL), nil, semconv.DBQueryText(data.SQL), semconv.DBOperationName(operation(data.SQL)))
	return ctx
}

func (q *queryTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	end(trace.SpanFromContext(ctx), data.Err)
}

func (q *queryTracer) TraceBatchStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	ctx, _ = q.start(ctx, conn, "BATCH", nil, semconv.DBOperationBatchSize(data.Batch.Len()))
	return ctx
}

// TraceBatchQuery is called once each result has been read, so its span
// starts when pgx began reading that result.
func (q *queryTracer) TraceBatchQuery(ctx context.Context, conn *pgx.Conn, data pgx.TraceBatchQueryData) {
	var opts []trace.SpanStartOption
	if !data.ReadStartTime.IsZero() {
		opts = append(opts, trace.WithTimestamp(data.ReadStartTime))
	}
	_, span := q.start(ctx, conn, operation(data.SQL), opts, semconv.DBQueryText(data.SQL), semconv.DBOperationName(operation(data.SQL)))
	end(span, data.Err)
}

func (q *queryTracer) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchEndData) {
	end(trace.SpanFromContext(ctx), data.Err)
}

func (q *queryTracer) start(ctx context.Context, conn *pgx.Conn, name string, opts []trace.SpanStartOption, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	attrs = append(attrs, semconv.DBSystemNamePostgreSQL)
	if conn != nil {
		cfg := conn.Config()
		attrs = append(attrs, semconv.DBNamespace(cfg.Database), semconv.ServerAddress(cfg.Host), semconv.ServerPort(int(cfg.Port)))
	}
	opts = append(opts, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return q.tracer.Start(ctx, name, opts...)
}

// end records err by kind only. The text of pgx and server errors can quote
// argument values (`invalid input syntax for type uuid: "..."`, `failed to
// encode args[0]: ...`), so it never goes into the span.
func end(span trace.Span, err error) {
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		kind := errorKind(err)
		span.SetAttributes(semconv.ErrorTypeKey.String(kind))
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			span.SetAttributes(semconv.DBResponseStatusCode(pgErr.Code))
		}
		span.SetStatus(codes.Error, kind)
	}
	span.End()
}

func errorKind(err error) string {
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr):
		return "SQLSTATE " + pgErr.Code
	case errors.Is(err, context.Canceled):
		return "context canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "context deadline exceeded"
	default:
		return fmt.Sprintf("%T", err)
	}
}

// operation is the statement's first keyword (SELECT, INSERT, WITH, ...)
// after any leading "--" comment lines: a low-cardinality span name.
func operation(sql string) string {
	for line := range strings.Lines(sql) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "--") {
			continue
		}
		return strings.ToUpper(strings.TrimRight(strings.Fields(line)[0], ";("))
	}
	return "postgresql"
}
