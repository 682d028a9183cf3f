package httpapi

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
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
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		var in identityIn
		err := decodeWrapped(httptest.NewRecorder(), r, "identity", &in, true)
		if err == nil {
			traits, terr := directory.NewTraits(in.Traits)
			if terr == nil {
				terr = directory.ValidateIdentity(directory.Identity{DisplayName: deref(in.DisplayName),
					Status: directory.StatusActive, Traits: traits})
			}
			err = terr
		}
		if err == nil {
			return
		}
		var e *latchkey.Error
		if !errors.As(err, &e) {
			t.Fatalf("error is not an API error: %v", err)
		}
		if status := statusOf[e.Code]; status < 400 || status > 499 {
			t.Fatalf("status %d (%s) for body %q", status, e.Code, body)
		}
	})
}
