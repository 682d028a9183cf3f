package console_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestStaticAssets: htmx goes gzipped to a browser that accepts it, and
// plain to one that does not, each with its ETag, revalidated with a 304;
// the favicon exists and every page links it.
func TestStaticAssets(t *testing.T) {
	e := start(t, "sqlite", "")
	get := func(path string, header ...string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", e.url+path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultTransport.RoundTrip(req) // no transparent decompression
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	plain := get("/console/static/htmx.min.js", "Accept-Encoding", "identity")
	body, _ := io.ReadAll(plain.Body)
	if plain.StatusCode != 200 || plain.Header.Get("Content-Encoding") != "" || !strings.Contains(string(body), "htmx") {
		t.Fatalf("plain htmx: %d %v", plain.StatusCode, plain.Header)
	}
	zipped := get("/console/static/htmx.min.js", "Accept-Encoding", "gzip, deflate, br")
	if zipped.Header.Get("Content-Encoding") != "gzip" || zipped.Header.Get("Vary") != "Accept-Encoding" ||
		!strings.Contains(zipped.Header.Get("Cache-Control"), "max-age") || zipped.Header.Get("ETag") == plain.Header.Get("ETag") {
		t.Fatalf("gzipped htmx: %v", zipped.Header)
	}
	compressed, _ := io.ReadAll(zipped.Body)
	zr, err := gzip.NewReader(bytes.NewReader(compressed))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, _ := io.ReadAll(zr)
	if string(unzipped) != string(body) {
		t.Fatal("the gzipped htmx is not htmx")
	}
	if len(compressed) > len(body)/2 {
		t.Errorf("gzipped htmx is %d bytes of %d", len(compressed), len(body))
	}
	if again := get("/console/static/htmx.min.js", "Accept-Encoding", "gzip", "If-None-Match", zipped.Header.Get("ETag")); again.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation: %d, want 304", again.StatusCode)
	}
	if icon := get("/console/static/favicon.svg"); icon.StatusCode != 200 || icon.Header.Get("Content-Type") != "image/svg+xml" {
		t.Errorf("favicon: %d %s", icon.StatusCode, icon.Header.Get("Content-Type"))
	}
	if missing := get("/console/static/nope.js"); missing.StatusCode != http.StatusNotFound {
		t.Errorf("a missing file: %d", missing.StatusCode)
	}
	wantPage(t, e.get(t, "/console/realms"), http.StatusOK, `<link rel="icon" href="/console/static/favicon.svg"`)
}

// TestTokensOnlyInAdminRealm: the navigation offers API tokens in the
// admin realm, where they work, and not in another.
func TestTokensOnlyInAdminRealm(t *testing.T) {
	e := start(t, "sqlite", "")
	realm := e.api(t, "POST", "/realms", map[string]any{"realm": map[string]any{"display_name": "Other", "classification": "SECURE_WORKFORCE"}})["id"].(string)
	link := func(r string) string { return `href="/console/realms/` + r + `/tokens"` }
	wantPage(t, e.get(t, "/console/realms/"+e.admin()+"/identities"), http.StatusOK, link(e.admin()))
	if p := e.get(t, "/console/realms/"+realm+"/identities"); strings.Contains(p.body, link(realm)) {
		t.Fatal("another realm's navigation offers API tokens")
	}
}
