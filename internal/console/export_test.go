package console

import (
	"net/http"

	"github.com/latchkey/latchkey"
	"time"
)

// SessionCookie is the cookie of a session holding token, as the sign-in
// callback sets it: tests sign in with a token they mint.
func SessionCookie(c *Console, token string) *http.Cookie {
	return SessionCookieSeen(c, token, time.Now())
}

// SessionCookieSeen is SessionCookie of a session last used at seen.
func SessionCookieSeen(c *Console, token string, seen time.Time) *http.Cookie {
	rec := &cookieRecorder{header: http.Header{}}
	c.setSealed(rec, sessionCookie, session{Token: token, CSRF: latchkey.RandomString(32), Seen: seen.Unix(), Admin: "Test admin"}, 0)
	return (&http.Response{Header: rec.header}).Cookies()[0]
}

type cookieRecorder struct{ header http.Header }

func (r *cookieRecorder) Header() http.Header       { return r.header }
func (r *cookieRecorder) Write([]byte) (int, error) { return 0, nil }
func (r *cookieRecorder) WriteHeader(int)           {}

// SectionFields are the traits of the identity edit form's sections, in order.
func SectionFields() []string {
	var out []string
	for _, s := range traitSections {
		out = append(out, s.Fields...)
	}
	return out
}
