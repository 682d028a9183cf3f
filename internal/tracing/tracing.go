// Package tracing owns Latchkey's OpenTelemetry traces: a tracer provider
// that exports spans over OTLP/HTTP, on only when an endpoint is configured
// (--otel-endpoint, or the standard OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), and the spans of HTTP requests,
// database statements (within a traced request) and background jobs (those
// that did work). Off, each costs the test of a flag.
//
// It must not import other Latchkey packages.
package tracing

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

const scope = "github.com/latchkey/latchkey"

// on says whether Setup made a provider that exports.
var on atomic.Bool

// Enabled reports whether traces are exported.
func Enabled() bool { return on.Load() }

func tracer() trace.Tracer { return otel.Tracer(scope) }

// untraced are the paths that load balancers and Prometheus poll.
var untraced = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// Setup exports traces to endpoint (a base URL such as
// http://collector:4318, as OTEL_EXPORTER_OTLP_ENDPOINT; /v1/traces is
// added), or where the standard OTEL_EXPORTER_OTLP_* variables say when
// endpoint is "". With neither it does nothing. The returned function
// flushes the spans not yet sent and turns tracing off.
func Setup(ctx context.Context, endpoint, version string) (shutdown func(context.Context) error, err error) {
	if endpoint == "" && os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return func(context.Context) error { return nil }, nil
	}
	var opts []otlptracehttp.Option
	if endpoint != "" {
		opts = append(opts, otlptracehttp.WithEndpointURL(strings.TrimRight(endpoint, "/")+"/v1/traces"))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, err
	}
	// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over these.
	res, err := resource.New(ctx, resource.WithAttributes(attribute.String("service.name", "latchkey"),
		attribute.String("service.version", version)), resource.WithFromEnv(), resource.WithHost())
	if err != nil {
		return nil, err
	}
	provider := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(provider)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	on.Store(true)
	return func(ctx context.Context) error {
		on.Store(false)
		otel.SetTracerProvider(noop.NewTracerProvider())
		return provider.Shutdown(ctx)
	}, nil
}

// StartRequest starts the server span of r, continuing the caller's trace
// (W3C traceparent). end names it by the route that served it and records
// the answer's status and the ids that tie it to the log and the audit
// events. Probes and scrapes (/healthz, /readyz, /metrics) are not traced.
func StartRequest(ctx context.Context, r *http.Request) (_ context.Context, end func(route string, status int, requestID, clientIP string)) {
	if !Enabled() || untraced[r.URL.Path] {
		return ctx, func(string, int, string, string) {}
	}
	ctx = otel.GetTextMapPropagator().Extract(ctx, propagation.HeaderCarrier(r.Header))
	ctx, span := tracer().Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
		attribute.String("http.request.method", r.Method),
		attribute.String("url.path", r.URL.Path),
		attribute.String("user_agent.original", r.UserAgent()),
	))
	return ctx, func(route string, status int, requestID, clientIP string) {
		if route != "" { // the mux's pattern: "GET /v1/…"
			span.SetName(route)
			_, path, _ := strings.Cut(route, " ")
			span.SetAttributes(attribute.String("http.route", path))
		}
		span.SetAttributes(attribute.Int("http.response.status_code", status),
			attribute.String("latchkey.request_id", requestID), attribute.String("client.address", clientIP))
		if c := r.Header.Get("X-Correlation-Id"); c != "" {
			span.SetAttributes(attribute.String("latchkey.correlation_id", c))
		}
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
		span.End()
	}
}

// StartStatement starts the span of a database statement, when ctx is in a
// traced span (a request's): the statements of idle background polls are
// not traced. end records the statement's error.
func StartStatement(ctx context.Context, system, query string) (_ context.Context, end func(error)) {
	if !Enabled() || !trace.SpanFromContext(ctx).IsRecording() {
		return ctx, func(error) {}
	}
	op, _, _ := strings.Cut(strings.TrimSpace(query), " ")
	ctx, span := tracer().Start(ctx, strings.ToUpper(op), trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String("db.system.name", system),
		attribute.String("db.operation.name", strings.ToUpper(op)),
		attribute.String("db.query.text", query), // parameters only: no values
	))
	return ctx, func(err error) {
		if err != nil && !errors.Is(err, context.Canceled) {
			span.RecordError(err)
			span.SetStatus(codes.Error, "")
		}
		span.End()
	}
}

// Job records the span of a background job's step, begun at start, when
// it did work or failed: idle polls leave no trace.
func Job(ctx context.Context, name string, start time.Time, err error, attrs ...attribute.KeyValue) {
	if !Enabled() {
		return
	}
	_, span := tracer().Start(ctx, "job "+name, trace.WithTimestamp(start), trace.WithNewRoot(),
		trace.WithAttributes(append(attrs, attribute.String("latchkey.job", name))...))
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "")
	}
	span.End()
}
