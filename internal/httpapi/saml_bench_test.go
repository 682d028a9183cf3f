package httpapi_test

import (
	"bytes"
	"encoding/base64"
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	crewsaml "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/latchkey/latchkey/internal/saml"
	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/testenv"
)

// BenchmarkSAMLSSO is SAML SSO for a signed-in user as a real SP and
// browser see it, over HTTP, on each engine: a realm with a generic_saml
// SSO config (attributes e-mail, groups, given name and a static one)
// assigned to ada, whose browser signed in with a passkey on the hosted
// page of the config's first SAML sign-in (the session cookie that page
// sets). Timed: crewjam/saml's SP's AuthnRequests (HTTP-Redirect, made
// before the timer) sent to the config's /sso with the cookie by 16
// keep-alive clients (LATCHKEY_BENCH_CLIENTS and LATCHKEY_BENCH_RATE apply
// as in BenchmarkPasskeySignIn); each answer must be the auto-posting form
// of a SAMLResponse that decodes and carries a signature, and one answer
// is verified in full by the SP (signatures, audience, InResponseTo, times).
//
// "envelope": an unsigned request, the Response signed (one RSA-SHA256
// signature); "signed-both": a signed request (one verification), the
// Response and its assertion signed (two signatures). It reports
// responses/s, p50 and p99, and the CPU per response (measureConcurrent).
// BenchmarkRS256Sign
// gives the machine's signature rate in the same run:
//
//	go test ./internal/httpapi/ -run '^$' -bench 'SAMLSSO|RS256Sign' -benchtime 2000x -cpu 2
func BenchmarkSAMLSSO(b *testing.B) {
	// The requests are made before the timer: on a loaded machine the last
	// may be answered more than crewjam's 90 s after it was issued, which
	// the IdP (and the SP, of the Response) would refuse as too old.
	delay := crewsaml.MaxIssueDelay
	crewsaml.MaxIssueDelay = 10 * time.Minute
	b.Cleanup(func() { crewsaml.MaxIssueDelay = delay })
	for _, eng := range testenv.Engines() {
		b.Run(eng.Name, func(b *testing.B) {
			c, realm, _, _, n := benchNode(b, eng.Name, 0)
			ada := newPasskeyHolder(b, n.URL, c, realm, "ada")
			c.ok(b, "PATCH", "/realms/"+realm+"/identities/"+ada.identity, map[string]any{"identity": map[string]any{
				"traits": map[string]any{"type": "traits_v0", "username": "ada", "primary_email_address": "ada@example.com", "given_name": "Ada"}}})
			staff := newGroup(b, c, realm, "Engineers")
			c.ok(b, "POST", "/realms/"+realm+"/groups/"+staff+":addMembers", map[string]any{"identity_ids": []string{ada.identity}})
			for _, bc := range []struct {
				name   string
				signed bool // the SP signs its requests and wants the assertion signed too
			}{{"envelope", false}, {"signed-both", true}} {
				b.Run(bc.name, func(b *testing.B) {
					sp, path := benchSAMLConfig(b, n, c, realm, bc.name, bc.signed, ada.identity)
					requests := make([]string, b.N)
					ids := make([]string, b.N)
					for k := range requests {
						requests[k], ids[k] = redirectRequest(b, sp, n.URL+path+"/sso")
					}
					cookie := samlSignIn(b, ada, sp, n.URL+path+"/sso")
					var sample []byte
					measureConcurrent(b, n.Config.Database, "responses", func(k int) {
						raw := samlResponse(b, requests[k], cookie)
						if k == 0 {
							sample = raw
						}
					})
					if a, err := sp.ParseXMLResponse(sample, []string{ids[0]}, sp.AcsURL); err != nil || a.Subject.NameID.Value != "ada@example.com" {
						b.Fatalf("the SP refuses the first Response: %v %v", err, a)
					}
				})
			}
		})
	}
}

// benchSAMLConfig creates a generic_saml SSO config for a crewjam SP
// (signed: it signs requests, wants them checked and the assertion signed
// too; else unsigned requests, the Response signed), assigns it to the
// identity, and returns the SP and the config's SAML path.
func benchSAMLConfig(b testing.TB, n *testenv.Node, c client, realm, name string, signed bool, identity string) (*crewsaml.ServiceProvider, string) {
	key, cert, certPEM := spKeyPair(b)
	base := "https://" + name + ".sp.example"
	payload := map[string]any{"type": "saml", "acs_url": base + "/saml/acs", "audience_url": base + "/saml/metadata",
		"name_format": "email_address", "subject_user_name_attribute": "email", "sign_envelope": true, "sign_assertions": signed,
		"validate_signed_requests": signed, "sp_signature_certificates": []any{map[string]any{"sp_public_signing_key": certPEM}},
		"additional_user_attributes": []any{attribute("email", "email"), attribute("groups", "groups"), attribute("givenName", "given_name"),
			map[string]any{"name": "team", "name_format": "unspecified", "value": "custom_static_string", "custom_value": "blue"}}}
	id := str(b, c.post(b, "/realms/"+realm+"/sso-configs", ssoConfigBody(name, payload)), "id")
	if resp := c.do(b, "POST", "/realms/"+realm+"/sso-configs/"+id+":addIdentities", map[string]any{"identity_ids": []string{identity}}); resp.Status != http.StatusOK {
		b.Fatalf(":addIdentities: %d %s", resp.Status, resp.Body)
	}
	path := saml.Path(c.tenant, realm, id)
	acs, _ := url.Parse(base + "/saml/acs")
	sp := &crewsaml.ServiceProvider{EntityID: base + "/saml/metadata", Key: key, Certificate: cert, AcsURL: *acs,
		IDPMetadata: fetchIdPMetadata(b, n, path), AuthnNameIDFormat: crewsaml.EmailAddressNameIDFormat}
	if signed {
		sp.SignatureMethod = dsig.RSASHA256SignatureMethod
	}
	return sp, path
}

// attribute is an additional_user_attributes entry: name holds value.
func attribute(name, value string) map[string]any {
	return map[string]any{"name": name, "name_format": "unspecified", "value": value}
}

// redirectRequest is an AuthnRequest of sp to sso with the HTTP-Redirect
// binding (signed if sp signs): its URL and its ID.
func redirectRequest(b testing.TB, sp *crewsaml.ServiceProvider, sso string) (string, string) {
	req, err := sp.MakeAuthenticationRequest(sso, crewsaml.HTTPRedirectBinding, crewsaml.HTTPPostBinding)
	if err != nil {
		b.Fatal(err)
	}
	u, err := req.Redirect("", sp)
	if err != nil {
		b.Fatal(err)
	}
	return u.String(), req.ID
}

// samlSignIn signs the holder in on the hosted page that a first
// AuthnRequest of sp shows, and returns the session cookie the page set.
func samlSignIn(b *testing.B, h passkeyHolder, sp *crewsaml.ServiceProvider, sso string) string {
	first, _ := redirectRequest(b, sp, sso)
	answer := h.signInAt(b, first)
	for _, ck := range (&http.Response{Header: answer.Header}).Cookies() {
		if ck.Name == session.CookieName && answer.Status == http.StatusOK {
			return ck.Name + "=" + ck.Value
		}
	}
	b.Fatalf("the hosted page's sign-in: %d %s, no session cookie", answer.Status, answer.Body)
	return ""
}

// samlResponse sends the AuthnRequest at requestURL with the session
// cookie and returns the SAML Response it is answered with (postedResponse).
func samlResponse(b *testing.B, requestURL, cookie string) []byte {
	return postedResponse(b, sendWith(b, noRedirects, "GET", requestURL, http.Header{"Cookie": {cookie}}, nil))
}

// postedResponse is the SAML Response of the auto-posting form that resp
// is, which must be a signed success. (Plain byte searches: a regular
// expression over the long value cost the benchmark's clients half a
// millisecond of the CPU measured.)
func postedResponse(b testing.TB, resp testenv.Response) []byte {
	b.Helper()
	form := resp.Body
	if i := bytes.Index(form, []byte(`<form method="post" action="`)); i >= 0 {
		form = form[i:]
	}
	_, value, found := bytes.Cut(form, []byte(`<input type="hidden" name="SAMLResponse" value="`))
	value, _, closed := bytes.Cut(value, []byte(`"`))
	if resp.Status != http.StatusOK || !found || !closed || !bytes.Contains(form, []byte(`document.getElementById("response").submit()`)) {
		b.Fatalf("%d, no form posting a SAMLResponse: %.500s", resp.Status, resp.Body)
	}
	raw, err := base64.StdEncoding.DecodeString(html.UnescapeString(string(value)))
	if err != nil || !bytes.Contains(raw, []byte("SignatureValue>")) || !bytes.Contains(raw, []byte(`StatusCode Value="`+crewsaml.StatusSuccess+`"`)) {
		b.Fatalf("the SAMLResponse (%v) is not a signed success: %.500s", err, raw)
	}
	return raw
}

// pgBackends are the server processes of one PostgreSQL database.
type pgBackends struct{ database string }

// postgresBackends are those of the database of dsn (nil for SQLite).
func postgresBackends(dsn string) *pgBackends {
	u, err := url.Parse(dsn)
	if dsn == "" || err != nil || strings.Trim(u.Path, "/") == "" {
		return nil
	}
	return &pgBackends{database: strings.Trim(u.Path, "/")}
}

// cpu is the CPU time the database's backends used so far: the processes
// whose title is "postgres: … user database host(port) state". A backend
// that exits takes its time with it; the pool keeps them open.
func (p *pgBackends) cpu() time.Duration {
	if p == nil {
		return 0
	}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var ticks int64
	for _, stat := range stats {
		title, err := os.ReadFile(filepath.Join(filepath.Dir(stat), "cmdline"))
		if err != nil || !bytes.HasPrefix(title, []byte("postgres: ")) || !bytes.Contains(title, []byte(" "+p.database+" ")) {
			continue
		}
		raw, err := os.ReadFile(stat)
		if err != nil {
			continue
		}
		// After the command's ")": state is field 3, utime and stime 14 and 15.
		fields := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
		if len(fields) > 12 {
			u, _ := strconv.ParseInt(fields[11], 10, 64)
			s, _ := strconv.ParseInt(fields[12], 10, 64)
			ticks += u + s
		}
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ, 100 on Linux
}
