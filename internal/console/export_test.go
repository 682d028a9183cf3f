package console

import (
	"net/http"

	"github.com/latchkey/latchkey"
	"time"
)

// SessionCookie are the cookies of a session holding token, as the sign-in
// callback sets it: tests sign in with a token they mint.
func SessionCookie(c *Console, token string) []*http.Cookie {
	return SessionCookieSeen(c, token, time.Now())
}

// SessionCookieSeen is SessionCookie of a session last used at seen.
func SessionCookieSeen(c *Console, token string, seen time.Time) []*http.Cookie {
	rec := &cookieRecorder{header: http.Header{}}
	c.setSealed(rec, sessionCookie, session{Token: token, CSRF: latchkey.RandomString(32), Seen: seen.Unix(), Admin: "Test admin"}, 0)
	var out []*http.Cookie
	for _, ck := range (&http.Response{Header: rec.header}).Cookies() {
		if ck.MaxAge >= 0 { // not a part cleared
			out = append(out, ck)
		}
	}
	return out
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
