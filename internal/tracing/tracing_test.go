package tracing_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/internal/tracing"
)

// TestTraces: with an endpoint, a node exports the span of a request, in
// the caller's trace (traceparent), named by its route and carrying the
// request and correlation ids, with its database statements as children;
// the span of a background job that did work (a CSV import), with its
// statements as children; and the spans of each step of a passkey sign-in
// (authorize, bi-authenticate, token), each with its request id and the
// sign-in's correlation id, which the sign-in log shows. On both engines.
func TestTraces(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) { traces(t, eng.Name) })
	}
}

func traces(t *testing.T, engine string) {
	rc := testenv.NewTraces(t)
	shutdown, err := tracing.Setup(t.Context(), rc.URL, "test")
	if err != nil {
		t.Fatal(err)
	}
	flushed := false
	defer func() {
		if !flushed {
			shutdown(t.Context())
		}
	}()
	n := testenv.StartNode(t, engine, nil) // after Setup: its store traces statements
	token := n.Token(t, "")
	c := n.Creds()

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, n.URL+"/v1/tenants/"+c.TenantID+"/realms/"+c.RealmID, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	req.Header.Set("X-Request-Id", "req-traced")
	req.Header.Set("X-Correlation-Id", "corr-42")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("get realm: %v %v", resp, err)
	}
	resp.Body.Close()

	testenv.Do(t, http.MethodGet, n.URL+"/readyz", "", nil) // not traced

	imp := testenv.Do(t, http.MethodPost, n.URL+"/v1/tenants/"+c.TenantID+"/realms/"+c.RealmID+"/identities:import", token,
		"username,email\ntraced1,traced1@example.com\n").JSON(t)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		job := testenv.Do(t, http.MethodGet, n.URL+"/v1/tenants/"+c.TenantID+"/realms/"+c.RealmID+"/import-jobs/"+imp["id"].(string), token, nil).JSON(t)
		if job["state"] == "SUCCEEDED" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("import job: %v", job)
		}
	}
	// A sign-in through the embedded SDK with a software passkey.
	realm := testenv.Do(t, http.MethodPost, n.URL+"/v1/tenants/"+c.TenantID+"/realms", token,
		map[string]any{"realm": map[string]any{"display_name": "Traced", "classification": "SECURE_CUSTOMER"}}).JSON(t)["id"].(string)
	ada := testenv.Do(t, http.MethodPost, n.URL+"/v1/tenants/"+c.TenantID+"/realms/"+realm+"/identities", token,
		map[string]any{"identity": map[string]any{"display_name": "Ada", "traits": map[string]any{"type": "traits_v0", "username": "ada"}}}).JSON(t)["id"].(string)
	app := testenv.NewSDKApp(t, n.URL, token, n.URL, c.TenantID, realm)
	code, request := app.SignIn(t, n.URL, n.URL, ada, app.Bind(t, n.URL, token, ada))
	app.Redeem(t, n.URL, code)
	events := testenv.Do(t, http.MethodGet, n.URL+"/v1/tenants/"+c.TenantID+"/realms/"+realm+"/events?filter="+
		url.QueryEscape(`action eq "sign_in.allowed"`), token, nil).JSON(t)["events"].([]any)
	if len(events) != 1 || events[0].(map[string]any)["correlation_id"] != request["correlation_id"] {
		t.Fatalf("the sign-in log: %v; the sign-in's correlation id: %v", events, request["correlation_id"])
	}
	correlation := request["correlation_id"].(string)

	flushed = true
	if err := shutdown(t.Context()); err != nil { // flushes the batch
		t.Fatal(err)
	}

	spans := rc.Spans()
	var server *tracepb.Span
	for _, s := range spans {
		if s.Name == "GET /v1/tenants/{tenant}/realms/{realm}" && hex.EncodeToString(s.TraceId) == traceID {
			server = s
		}
	}
	if server == nil {
		names := []string{}
		for _, s := range spans {
			names = append(names, s.Name)
		}
		t.Fatalf("no server span of the request in trace %s; spans: %q", traceID, names)
	}
	if server.Kind != tracepb.Span_SPAN_KIND_SERVER || testenv.Attr(server, "latchkey.request_id").GetStringValue() != "req-traced" ||
		testenv.Attr(server, "latchkey.correlation_id").GetStringValue() != "corr-42" ||
		testenv.Attr(server, "http.response.status_code").GetIntValue() != 200 || testenv.Attr(server, "http.route").GetStringValue() != "/v1/tenants/{tenant}/realms/{realm}" {
		t.Errorf("server span: %v", server)
	}
	if testenv.Statements(spans, server) == 0 {
		t.Error("no statements under the request's span")
	}
	var job *tracepb.Span
	steps := map[string]bool{}
	for _, s := range spans {
		if s.Name == "job import" {
			job = s
		}
		if testenv.Attr(s, "url.path").GetStringValue() == "/readyz" {
			t.Error("a probe was traced")
		}
		if step, ok := strings.CutPrefix(testenv.Attr(s, "url.path").GetStringValue(), app.Path+"/"); ok && step != ".well-known/jwks.json" {
			steps[step] = true
			if testenv.Attr(s, "latchkey.correlation_id").GetStringValue() != correlation || testenv.Attr(s, "latchkey.request_id").GetStringValue() == "" {
				t.Errorf("the span of the sign-in's %s: correlation id %v (want %s), request id %v", step,
					testenv.Attr(s, "latchkey.correlation_id"), correlation, testenv.Attr(s, "latchkey.request_id"))
			}
		}
	}
	if job == nil || testenv.Statements(spans, job) == 0 {
		t.Errorf("a span of the import job (%v) with no statements under it", job)
	}
	if len(steps) != 3 || !steps["authorize"] || !steps["bi-authenticate"] || !steps["token"] {
		t.Errorf("the spans of the sign-in's steps: %v", steps)
	}
}

// TestJobSpans: a job step's statements are kept until it ends: a step
// that did no work leaves no span at all; one that did has its span with
// its statements as children (an error recorded on its own), and so are
// the statements its work runs after the step returned.
func TestJobSpans(t *testing.T) {
	rc := testenv.NewTraces(t)
	shutdown, err := tracing.Setup(t.Context(), rc.URL, "test")
	if err != nil {
		t.Fatal(err)
	}
	statement := func(ctx context.Context, query string, err error) {
		_, end := tracing.StartStatement(ctx, "sqlite", query)
		end(err)
	}
	idle, end := tracing.StartJob(t.Context(), "idle")
	statement(idle, "SELECT 1", nil)
	end(false, nil)
	statement(idle, "SELECT 2", nil)

	busy, end := tracing.StartJob(t.Context(), "busy")
	statement(busy, "UPDATE jobs SET state = ?", errors.New("locked"))
	end(true, nil, attribute.Int("latchkey.job.count", 1))
	statement(busy, "INSERT INTO attempts VALUES (?)", nil)
	statement(t.Context(), "SELECT 3", nil) // in no job and no request
	if err := shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}

	spans := rc.Spans()
	var job *tracepb.Span
	for _, s := range spans {
		if s.Name == "job busy" {
			job = s
		}
	}
	if job == nil || len(spans) != 3 || testenv.Attr(job, "latchkey.job.count").GetIntValue() != 1 {
		t.Fatalf("want the span of the busy job and its two statements; got %v", spans)
	}
	for _, s := range spans {
		if s == job {
			continue
		}
		if !bytes.Equal(s.ParentSpanId, job.SpanId) || !bytes.Equal(s.TraceId, job.TraceId) || s.StartTimeUnixNano < job.StartTimeUnixNano {
			t.Errorf("statement %s is not a child of the job's span", s.Name)
		}
		if failed := s.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR; failed != (s.Name == "UPDATE") {
			t.Errorf("statement %s: status %v", s.Name, s.Status)
		}
	}
}
