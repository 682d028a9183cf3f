package httpx_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/httpx"
	"github.com/latchkey/latchkey/internal/oauth"
)

// TestWriteError: an API error keeps its code and status; any other error
// is logged and shown without its text, as a 503 with Retry-After when the
// database is unavailable, else as a 500.
func TestWriteError(t *testing.T) {
	var logged bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logged, nil))
	for _, tc := range []struct {
		err        error
		status     int
		code       string
		retryAfter string
		log        string
	}{
		{latchkey.InvalidField("display_name", "missing"), 400, latchkey.CodeBadRequest, "", ""},
		{latchkey.Errorf(latchkey.CodeNotFound, "no realm"), 404, latchkey.CodeNotFound, "", ""},
		{latchkey.Errorf(httpx.CodeMethodNotAllowed, "no"), 405, httpx.CodeMethodNotAllowed, "", ""},
		{errors.New("disk on fire"), 500, latchkey.CodeInternal, "", "disk on fire"},
		{fmt.Errorf("read row: %w", io.ErrUnexpectedEOF), 503, latchkey.CodeUnavailable, "5", "unexpected EOF"},
	} {
		logged.Reset()
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/", nil)
		httpx.WriteError(w, r.WithContext(latchkey.WithLogger(r.Context(), logger)), tc.err)
		var body latchkey.Error
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if w.Code != tc.status || body.Code != tc.code || w.Header().Get("Retry-After") != tc.retryAfter {
			t.Errorf("%v: %d %s Retry-After %q, want %d %s %q", tc.err, w.Code, body.Code, w.Header().Get("Retry-After"),
				tc.status, tc.code, tc.retryAfter)
		}
		if tc.log == "" && logged.Len() > 0 {
			t.Errorf("%v: logged %s", tc.err, logged.String())
		}
		if tc.log != "" && (!strings.Contains(logged.String(), tc.log) || strings.Contains(body.Message, tc.log)) {
			t.Errorf("%v: logged %q, answered %q: want the cause logged, not shown", tc.err, logged.String(), body.Message)
		}
	}
}

// TestWriteOAuthError: OAuth errors in RFC 6749 §5.2's body, invalid_client
// as a 401 asking for HTTP Basic; other errors as WriteError writes them.
func TestWriteOAuthError(t *testing.T) {
	for _, tc := range []struct {
		err            error
		status         int
		authenticate   string
		bodyHasElement string
	}{
		{&oauth.Error{Code: "invalid_grant", Description: "expired"}, 400, "", `"error":"invalid_grant"`},
		{&oauth.Error{Code: "invalid_client", Description: "who"}, 401, `Basic realm="latchkey"`, `"error":"invalid_client"`},
		{latchkey.Errorf(latchkey.CodeNotFound, "no app"), 404, "", `"code":"not_found"`},
	} {
		w := httptest.NewRecorder()
		httpx.WriteOAuthError(w, httptest.NewRequest("POST", "/", nil), tc.err)
		if w.Code != tc.status || w.Header().Get("WWW-Authenticate") != tc.authenticate || !strings.Contains(w.Body.String(), tc.bodyHasElement) {
			t.Errorf("%v: %d %q %s", tc.err, w.Code, w.Header().Get("WWW-Authenticate"), w.Body)
		}
	}
}

// TestMuxVerbs: two packages may add custom methods to one resource; each
// handler sees the id without its method; a method nobody registered is a
// 404, and one registered twice panics.
func TestMuxVerbs(t *testing.T) {
	answer := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, name+" "+r.PathValue("job"))
		})
	}
	mux := httpx.NewMux()
	mux.HandleVerbs("POST /jobs/{job}", httpx.Verbs{"revoke": answer("revoke")})
	mux.HandleVerbs("POST /jobs/{job}", httpx.Verbs{"bind": answer("bind"), "": answer("plain")})
	for path, want := range map[string]string{
		"/jobs/j1:revoke": "200 revoke j1",
		"/jobs/j1:bind":   "200 bind j1",
		"/jobs/j1":        "200 plain j1",
		"/jobs/j1:other":  "404",
		"/jobs/j1:":       "404",
		"/jobs/:bind":     "404",
	} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest("POST", path, nil))
		got := fmt.Sprint(w.Code)
		if w.Code == http.StatusOK {
			got += " " + w.Body.String()
		}
		if got != want {
			t.Errorf("POST %s: %s, want %s", path, got, want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("a method registered twice did not panic")
		}
	}()
	mux.HandleVerbs("POST /jobs/{job}", httpx.Verbs{"bind": answer("again")})
}
