package httpapi

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/httpx"
)

// FuzzDecodeIdentity feeds arbitrary bodies to the identity decoder and the
// validation behind it: every outcome is success or a 4xx *latchkey.Error,
// never a panic or an error the API would show as a 500.
func FuzzDecodeIdentity(f *testing.F) {
	for _, seed := range []string{
		`{"identity":{"display_name":"Test Identity","traits":{"type":"traits_v0","username":"test","primary_email_address":"test@example.com"}}}`,
		`{"display_name":"Bare","traits":{"username":"bare"}}`,
		`{"identity":{"display_name":"x","status":"suspended","traits":{"nick_name":null}}}`,
		`{"identity":{"id":"e372db224c06e850","create_time":"2022-04-12T05:53:07.119Z"}}`,
		`{"identity":{"display_name":7}}`,
		`{"identity":{"traits":{"username":["a"]}}}`,
		`{"identity":{},"extra":1}`,
		`{"identity":{"display_name":"a"}} trailing`,
		`[]`, `null`, `"x"`, `{`, ``, `{"identity":null}`,
		`{"identity":{"display_name":"x","traits":{"username":"a","given_name":"\u0000"}}}`,
		`{"identity":{"display_name":"x","traits":{"username":"a","title":"\u0085\u007f"}}}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		var in identityIn
		err := httpx.DecodeWrapped(httptest.NewRecorder(), r, "identity", &in, true)
		if err == nil {
			traits, terr := directory.NewTraits(in.Traits)
			if terr == nil {
				terr = directory.ValidateIdentity(directory.Identity{DisplayName: deref(in.DisplayName),
					Status: directory.StatusActive, Traits: traits})
			}
			err = terr
		}
		if err == nil {
			for _, name := range directory.TraitNames {
				if v := in.Traits[name]; latchkey.TextProblem(v, true) != "" {
					t.Fatalf("body %q: trait %s %q accepted", body, name, v)
				}
			}
			return
		}
		var e *latchkey.Error
		if !errors.As(err, &e) {
			t.Fatalf("error is not an API error: %v", err)
		}
		if status := httpx.Status(e.Code); status < 400 || status > 499 {
			t.Fatalf("status %d (%s) for body %q", status, e.Code, body)
		}
	})
}

// FuzzPageToken decodes arbitrary page tokens: a token is refused with the
// 400 of page_token, or what it carries is acceptable text that may reach
// the store. Seeds: testdata/fuzz/FuzzPageToken.
func FuzzPageToken(f *testing.F) {
	for _, seed := range []string{
		pageToken{Filter: `display_name eq "x"`, Size: 20, After: "0123456789abcdef", Issued: 4102444800}.encode(),
		pageToken{Size: 1, After: "a\x00", Issued: 4102444800}.encode(),
		pageToken{Filter: "id eq \"\x01\"", Size: 1, After: "a", Issued: 4102444800}.encode(),
		"", "%00", "e30", "not base64!",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := decodePageToken(raw, time.Now())
		if err != nil {
			var e *latchkey.Error
			if !errors.As(err, &e) || e.Code != latchkey.CodeBadRequest || e.Details[0].FieldViolations[0].Field != "page_token" {
				t.Fatalf("%q: %v", raw, err)
			}
			return
		}
		if p.Size <= 0 || latchkey.TextProblem(p.After, false) != "" || latchkey.TextProblem(p.Filter, true) != "" {
			t.Fatalf("%q: accepted %+v", raw, p)
		}
	})
}

// FuzzRequestText sends arbitrary query strings and form bodies through the
// check every request passes: what it lets through holds acceptable text
// only, and it never fails otherwise. Seeds: testdata/fuzz/FuzzRequestText.
func FuzzRequestText(f *testing.F) {
	f.Add("filter=display_name+eq+%22x%22", "grant_type=client_credentials&client_id=a")
	f.Add("page_token=%00", "client_id=%ff")
	f.Add("a%00=1", "x=%0d%0a%09")
	f.Fuzz(func(t *testing.T, query, body string) {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		r.URL.RawQuery = query
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		field, problem := requestTextProblem(httptest.NewRecorder(), r)
		if problem != "" {
			if field == "" {
				t.Fatalf("%q %q: %s without a field", query, body, problem)
			}
			return
		}
		for _, values := range []map[string][]string{r.URL.Query(), r.PostForm} {
			for name, vs := range values {
				for _, v := range vs {
					if latchkey.TextProblem(name, false) != "" || latchkey.TextProblem(v, true) != "" {
						t.Fatalf("%q %q: let %q=%q through", query, body, name, v)
					}
				}
			}
		}
	})
}
