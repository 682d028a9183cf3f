package testenv

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	collector "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	common "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// Traces is an OTLP/HTTP trace receiver in the test's process, for
// tracing.Setup(ctx, URL, …): it keeps the spans posted to /v1/traces.
// It stops when the test ends.
type Traces struct {
	URL   string
	mu    sync.Mutex
	spans []*tracepb.Span
}

// NewTraces starts a receiver.
func NewTraces(t testing.TB) *Traces {
	tr := &Traces{}
	srv := httptest.NewServer(http.HandlerFunc(tr.receive))
	t.Cleanup(srv.Close)
	tr.URL = srv.URL
	return tr
}

func (tr *Traces) receive(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	var req collector.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(body, &req)
	}
	if r.URL.Path != "/v1/traces" || err != nil {
		http.Error(w, "bad export", http.StatusBadRequest)
		return
	}
	tr.mu.Lock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			tr.spans = append(tr.spans, ss.Spans...)
		}
	}
	tr.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	b, _ := proto.Marshal(&collector.ExportTraceServiceResponse{})
	w.Write(b)
}

// Spans are the spans received so far.
func (tr *Traces) Spans() []*tracepb.Span {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]*tracepb.Span(nil), tr.spans...)
}

// Attr is the value of a span's attribute, nil when it has none.
func Attr(s *tracepb.Span, key string) *common.AnyValue {
	for _, a := range s.Attributes {
		if a.Key == key {
			return a.Value
		}
	}
	return nil
}

// Statements counts the spans of database statements under parent.
func Statements(spans []*tracepb.Span, parent *tracepb.Span) int {
	n := 0
	for _, s := range spans {
		if string(s.ParentSpanId) == string(parent.SpanId) && string(s.TraceId) == string(parent.TraceId) &&
			Attr(s, "db.system.name") != nil && Attr(s, "db.query.text") != nil {
			n++
		}
	}
	return n
}
