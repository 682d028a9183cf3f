package authenticator

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestCORS: only a trusted origin is allowed, every answer varies by
// Origin, and a preflight (no handler) is a 204 that calls nothing.
func TestCORS(t *testing.T) {
	trusted := func(*http.Request) []string { return []string{"https://app.example"} }
	called := false
	h := cors(trusted, func(w http.ResponseWriter, r *http.Request) { called = true })
	for _, tc := range []struct {
		origin, allowed string
	}{
		{"https://app.example", "https://app.example"},
		{"https://evil.example", ""},
		{"", ""},
	} {
		called = false
		r := httptest.NewRequest("POST", "/", nil)
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if got := w.Header().Get("Access-Control-Allow-Origin"); got != tc.allowed || !called {
			t.Errorf("origin %q: allowed %q (called %v), want %q", tc.origin, got, called, tc.allowed)
		}
		if vary := w.Header().Get("Vary"); (tc.origin != "") != (vary == "Origin") {
			t.Errorf("origin %q: Vary %q", tc.origin, vary)
		}
	}
	w := httptest.NewRecorder()
	r := httptest.NewRequest("OPTIONS", "/", nil)
	r.Header.Set("Origin", "https://app.example")
	cors(trusted, nil).ServeHTTP(w, r)
	if w.Code != http.StatusNoContent || w.Header().Get("Access-Control-Allow-Methods") == "" {
		t.Errorf("preflight: %d %v", w.Code, w.Header())
	}
}

// TestPageHeaders: each hosted page gets its own CSP nonce, is never cached
// or framed, and loads logos over http only when Latchkey itself is served
// over http.
func TestPageHeaders(t *testing.T) {
	csp := func(publicURL string) (string, string) {
		w := httptest.NewRecorder()
		nonce := (&Server{PublicURL: publicURL}).pageHeaders(w)
		if w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("headers %v", w.Header())
		}
		return nonce, w.Header().Get("Content-Security-Policy")
	}
	n1, p1 := csp("https://id.example")
	n2, p2 := csp("http://localhost:8080")
	if n1 == "" || n1 == n2 || !strings.Contains(p1, "script-src 'nonce-"+n1+"'") {
		t.Errorf("nonces %q %q, policy %q", n1, n2, p1)
	}
	if !strings.Contains(p1, "frame-ancestors 'none'") || !strings.Contains(p1, "img-src https: data:;") ||
		!strings.Contains(p2, "img-src http: https: data:;") {
		t.Errorf("policies %q, %q", p1, p2)
	}
}
