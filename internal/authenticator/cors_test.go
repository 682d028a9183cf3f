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

// TestRespond: a query response is a redirect; a form_post one is a page
// whose form posts the response's own parameters to the redirect URI, the
// only target its CSP allows (the origin, or a native app's scheme).
func TestRespond(t *testing.T) {
	s := &Server{PublicURL: "https://id.example"}
	w := httptest.NewRecorder()
	s.respond(w, httptest.NewRequest("GET", "/", nil), false, "https://app.example/cb", "https://app.example/cb?code=c")
	if w.Code != http.StatusFound || w.Header().Get("Location") != "https://app.example/cb?code=c" {
		t.Errorf("query: %d %v", w.Code, w.Header())
	}
	for redirectURI, formAction := range map[string]string{
		"https://app.example:8443/cb?tenant=t": "form-action https://app.example:8443;",
		"com.example.app:/cb":                  "form-action com.example.app:;",
	} {
		w := httptest.NewRecorder()
		to := redirectURI + "&code=c&state=s"
		if !strings.Contains(redirectURI, "?") {
			to = redirectURI + "?code=c&state=s"
		}
		s.respond(w, httptest.NewRequest("GET", "/", nil), true, redirectURI, to)
		body := w.Body.String()
		if w.Code != http.StatusOK || !strings.Contains(w.Header().Get("Content-Security-Policy"), formAction) ||
			!strings.Contains(body, `action="`+strings.ReplaceAll(redirectURI, "&", "&amp;")+`"`) ||
			!strings.Contains(body, `name="code" value="c"`) || !strings.Contains(body, `name="state" value="s"`) || strings.Contains(body, `name="tenant"`) {
			t.Errorf("form_post to %s: %d %v\n%s", redirectURI, w.Code, w.Header(), body)
		}
	}
	w = httptest.NewRecorder()
	s.pageHeaders(w)
	if !strings.Contains(w.Header().Get("Content-Security-Policy"), "form-action 'none';") {
		t.Errorf("a page that posts nothing: %s", w.Header().Get("Content-Security-Policy"))
	}
}
