// Package tracing owns Latchkey's OpenTelemetry traces: a tracer provider
// that exports spans over OTLP/HTTP, on only when an endpoint is configured
// (--otel-endpoint, or the standard OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), and the spans of HTTP requests,
// background jobs (the steps that did work) and the database statements of
// either, as their children. Off, each costs the test of a flag.
//
// It must not import other Latchkey packages.
package tracing

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"sync"
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
	attrs := []attribute.KeyValue{
		attribute.String("http.request.method", r.Method),
		attribute.String("url.path", r.URL.Path),
		attribute.String("user_agent.original", r.UserAgent()),
	}
	if c := r.Header.Get("X-Correlation-Id"); c != "" { // the SDK's; Correlate may name the sign-in's instead
		attrs = append(attrs, attribute.String(correlationKey, c))
	}
	ctx, span := tracer().Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
	return ctx, func(route string, status int, requestID, clientIP string) {
		if route != "" { // the mux's pattern: "GET /v1/…"
			span.SetName(route)
			_, path, _ := strings.Cut(route, " ")
			span.SetAttributes(attribute.String("http.route", path))
		}
		span.SetAttributes(attribute.Int("http.response.status_code", status),
			attribute.String("latchkey.request_id", requestID), attribute.String("client.address", clientIP))
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
		span.End()
	}
}

const correlationKey = "latchkey.correlation_id"

// Correlate gives the span of ctx (a request's) the correlation id of the
// sign-in that it is a step of, as the sign-in log shows it, so that the
// log leads to the trace of each step.
func Correlate(ctx context.Context, id string) {
	if id != "" && Enabled() {
		trace.SpanFromContext(ctx).SetAttributes(attribute.String(correlationKey, id))
	}
}

// StartStatement starts the span of a database statement, as a child of
// the span of ctx (a request's), or kept for the job step of ctx (see
// StartJob). Other statements, such as those of idle polls, are not
// traced. end records the statement's error.
func StartStatement(ctx context.Context, system, query string) (_ context.Context, end func(error)) {
	if !Enabled() {
		return ctx, func(error) {}
	}
	if !trace.SpanFromContext(ctx).IsRecording() {
		j, _ := ctx.Value(jobKey{}).(*job)
		if j == nil {
			return ctx, func(error) {}
		}
		span, pending := j.parent()
		if pending {
			return ctx, j.keep(system, query)
		}
		if span == nil { // an idle step's
			return ctx, func(error) {}
		}
		// A statement of the step's work after the step returned (the
		// delivery it started): a late child of the job's span.
		ctx = trace.ContextWithSpan(ctx, span)
	}
	ctx, span := tracer().Start(ctx, statementName(query), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(statementAttributes(system, query)...))
	return ctx, func(err error) {
		endStatement(span, err)
		span.End()
	}
}

func statementName(query string) string {
	op, _, _ := strings.Cut(strings.TrimSpace(query), " ")
	return strings.ToUpper(op)
}

func statementAttributes(system, query string) []attribute.KeyValue {
	return []attribute.KeyValue{
		attribute.String("db.system.name", system),
		attribute.String("db.operation.name", statementName(query)),
		attribute.String("db.query.text", query), // parameters only: no values
	}
}

func endStatement(span trace.Span, err error) {
	if err != nil && !errors.Is(err, context.Canceled) {
		span.RecordError(err)
		span.SetStatus(codes.Error, "")
	}
}

// maxKept bounds the statements a job step keeps before it knows whether
// it did work; the span counts those it dropped.
const maxKept = 1000

type jobKey struct{}

// job is a step of a background job, begun by StartJob. Until it ends,
// its statements are kept; once it has ended with work, span is the job's
// span.
type job struct {
	mu      sync.Mutex
	ended   bool
	span    trace.Span
	kept    []statement
	dropped int
}

// statement is a database statement kept for the span of a job step.
type statement struct {
	system, query string
	start, end    time.Time
	err           error
}

// parent says whether j is still running (its statements are kept) and,
// once it ended with work, its span.
func (j *job) parent() (span trace.Span, pending bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.span, !j.ended
}

// keep begins a statement of the running step and returns what ends it.
func (j *job) keep(system, query string) func(error) {
	start := time.Now()
	return func(err error) {
		s := statement{system: system, query: query, start: start, end: time.Now(), err: err}
		j.mu.Lock()
		defer j.mu.Unlock()
		switch {
		case j.ended: // the step ended first: its span has what it has
		case len(j.kept) == maxKept:
			j.dropped++
		default:
			j.kept = append(j.kept, s)
		}
	}
}

// StartJob begins a step of the background job name: the statements run
// with the returned context are kept until end says whether the step did
// work. If it did, or failed, end records the job's span, from now, with
// those statements as its children (and those the step's work runs later);
// if not, they are dropped, so that idle polls leave no trace.
func StartJob(ctx context.Context, name string) (_ context.Context, end func(worked bool, err error, attrs ...attribute.KeyValue)) {
	if !Enabled() {
		return ctx, func(bool, error, ...attribute.KeyValue) {}
	}
	j, start := &job{}, time.Now()
	return context.WithValue(ctx, jobKey{}, j), func(worked bool, err error, attrs ...attribute.KeyValue) {
		j.mu.Lock()
		defer j.mu.Unlock()
		j.ended = true
		kept := j.kept
		j.kept = nil
		if !worked && err == nil {
			return
		}
		attrs = append(attrs, attribute.String("latchkey.job", name))
		if j.dropped > 0 {
			attrs = append(attrs, attribute.Int("latchkey.job.statements_dropped", j.dropped))
		}
		jobCtx, span := tracer().Start(ctx, "job "+name, trace.WithTimestamp(start), trace.WithNewRoot(), trace.WithAttributes(attrs...))
		for _, s := range kept {
			_, child := tracer().Start(jobCtx, statementName(s.query), trace.WithTimestamp(s.start), trace.WithSpanKind(trace.SpanKindClient),
				trace.WithAttributes(statementAttributes(s.system, s.query)...))
			endStatement(child, s.err)
			child.End(trace.WithTimestamp(s.end))
		}
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, "")
		}
		span.End()
		j.span = span
	}
}
