package tracing_test

import (
	"bytes"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	collector "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	common "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/internal/tracing"
)

// receiver is an OTLP/HTTP trace receiver: it keeps the spans posted to
// /v1/traces.
type receiver struct {
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	var req collector.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(body, &req)
	}
	if r.URL.Path != "/v1/traces" || err != nil {
		http.Error(w, "bad export", http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			rc.spans = append(rc.spans, ss.Spans...)
		}
	}
	rc.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	b, _ := proto.Marshal(&collector.ExportTraceServiceResponse{})
	w.Write(b)
}

func attr(s *tracepb.Span, key string) *common.AnyValue {
	for _, a := range s.Attributes {
		if a.Key == key {
			return a.Value
		}
	}
	return nil
}

// TestTraces: with an endpoint, a node exports the span of a request, in
// the caller's trace (traceparent), named by its route and carrying the
// request and correlation ids, with its database statements as children;
// and the span of a background job that did work (a CSV import).
func TestTraces(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	shutdown, err := tracing.Setup(t.Context(), srv.URL, "test")
	if err != nil {
		t.Fatal(err)
	}
	flushed := false
	defer func() {
		if !flushed {
			shutdown(t.Context())
		}
	}()
	n := testenv.StartNode(t, "sqlite", nil) // after Setup: its store traces statements
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
	flushed = true
	if err := shutdown(t.Context()); err != nil { // flushes the batch
		t.Fatal(err)
	}

	rc.mu.Lock()
	defer rc.mu.Unlock()
	var server *tracepb.Span
	for _, s := range rc.spans {
		if s.Name == "GET /v1/tenants/{tenant}/realms/{realm}" && hex.EncodeToString(s.TraceId) == traceID {
			server = s
		}
	}
	if server == nil {
		names := []string{}
		for _, s := range rc.spans {
			names = append(names, s.Name)
		}
		t.Fatalf("no server span of the request in trace %s; spans: %q", traceID, names)
	}
	if server.Kind != tracepb.Span_SPAN_KIND_SERVER || attr(server, "latchkey.request_id").GetStringValue() != "req-traced" ||
		attr(server, "latchkey.correlation_id").GetStringValue() != "corr-42" ||
		attr(server, "http.response.status_code").GetIntValue() != 200 || attr(server, "http.route").GetStringValue() != "/v1/tenants/{tenant}/realms/{realm}" {
		t.Errorf("server span: %v", server)
	}
	statements, job := 0, false
	for _, s := range rc.spans {
		if bytes.Equal(s.ParentSpanId, server.SpanId) && attr(s, "db.system.name").GetStringValue() == "sqlite" && attr(s, "db.query.text") != nil {
			statements++
		}
		if s.Name == "job import" {
			job = true
		}
		if attr(s, "url.path").GetStringValue() == "/readyz" {
			t.Error("a probe was traced")
		}
	}
	if statements == 0 || !job {
		t.Errorf("%d statements under the request's span; a span of the import job: %v", statements, job)
	}
}
