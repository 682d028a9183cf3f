package console_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/console"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/loadtest"
	"github.com/latchkey/latchkey/internal/server"
)

func TestIdentities(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		realm := e.api(t, "POST", "/realms", map[string]any{"realm": map[string]any{"display_name": "Staff", "classification": "SECURE_WORKFORCE"}})["id"].(string)
		base := "/console/realms/" + realm + "/identities"

		// Manual entry: a refused field is shown on its field, with what was typed kept.
		p := e.post(t, base, url.Values{"display_name": {"Ada Lovelace"}, "traits.username": {"ada"}, "traits.primary_email_address": {"not-an-address"}})
		wantPage(t, p, http.StatusUnprocessableEntity, `id="e-traits.primary_email_address"`, `value="Ada Lovelace"`, `value="not-an-address"`)
		p = e.follow(t, base, url.Values{"display_name": {"Ada Lovelace"}, "traits.username": {"ada"}, "traits.primary_email_address": {"ada@example.com"}})
		wantPage(t, p, http.StatusOK, "Identity ada created.", `<dt>E-mail address</dt><dd>ada@example.com</dd>`, "Danger zone")
		// The same username again, in any case, is refused on the username field.
		p = e.post(t, base, url.Values{"traits.username": {"ADA"}})
		wantPage(t, p, http.StatusUnprocessableEntity, `id="e-traits.username"`, "username already exists")

		e.follow(t, base, url.Values{"traits.username": {"grace"}, "traits.primary_email_address": {"grace@example.com"}})
		list := e.get(t, base+"?q=gr")
		wantPage(t, list, http.StatusOK, ">grace<")
		if strings.Contains(list.body, ">ada<") {
			t.Fatal("the search for gr lists ada")
		}
		// One box searches names, usernames and e-mail addresses; the htmx
		// request gets the table alone.
		req, _ := http.NewRequest("GET", e.url+base+"?q=ada%40", nil)
		req.Header.Set("HX-Request", "true")
		req.Header.Set("HX-Target", "results")
		frag := e.do(t, req)
		wantPage(t, frag, http.StatusOK, ">ada<")
		if strings.Contains(frag.body, "<html") || strings.Contains(frag.body, ">grace<") {
			t.Fatalf("the fragment is the whole page or lists grace: %s", excerpt(frag.body))
		}

		ada := e.api(t, "GET", "/realms/"+realm+"/identities?filter="+url.QueryEscape(`traits.username eq "ada"`), nil)["identities"].([]any)[0].(map[string]any)
		id := ada["id"].(string)
		// Edit: every trait; an invalid value keeps what was typed.
		p = e.post(t, base+"/"+id, url.Values{"display_name": {""}, "traits.username": {"ada"}, "traits.family_name": {"Lovelace"}})
		wantPage(t, p, http.StatusUnprocessableEntity, `id="e-display_name"`, `value="Lovelace"`)
		p = e.follow(t, base+"/"+id, url.Values{"display_name": {"Augusta Ada King"}, "traits.username": {"ada"}, "traits.family_name": {"King"}})
		wantPage(t, p, http.StatusOK, "Saved.", "<dd>Augusta Ada King</dd>")
		// Edit opens the fields in sections: the first, and those with values.
		p = e.get(t, base+"/"+id+"?edit=1")
		wantPage(t, p, http.StatusOK, `<details class="section" open>`, "<summary>Sign-in and contact</summary>", `value="King"`, `<label for="f-traits.nick_name">Nickname`)
		got := e.api(t, "GET", "/realms/"+realm+"/identities/"+id, nil)
		if got["display_name"] != "Augusta Ada King" || got["traits"].(map[string]any)["family_name"] != "King" {
			t.Fatalf("the API shows %v", got)
		}

		// The summary names the groups and the last sign-in, from the event log.
		g := e.api(t, "POST", "/realms/"+realm+"/groups", map[string]any{"group": map[string]any{"display_name": "Analysts"}})["id"].(string)
		e.api(t, "POST", "/realms/"+realm+"/groups/"+g+":addMembers", map[string]any{"identity_ids": []string{id}})
		wantPage(t, e.get(t, base+"/"+id), http.StatusOK, `data-summary="last-sign-in">Never<`, `>Analysts</a>`)
		signedIn := audit.NewAt(t.Context(), time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC), e.tenant(), realm, audit.SignInAllowed, "Identity", id)
		signedIn.IdentityID, signedIn.ClientIP = id, "192.0.2.7"
		if err := e.node.Store.RecordEvent(t.Context(), signedIn); err != nil {
			t.Fatal(err)
		}
		wantPage(t, e.get(t, base+"/"+id), http.StatusOK, `data-summary="last-sign-in">2026-12-01 09:30 UTC from 192.0.2.7<`)

		// Suspend, then delete with confirmation.
		p = e.follow(t, base+"/"+id+"/status", url.Values{"status": {"suspended"}})
		wantPage(t, p, http.StatusOK, "is now suspended")
		p = e.post(t, base+"/"+id+"/delete", url.Values{"confirm": {"grace"}})
		wantPage(t, p, http.StatusUnprocessableEntity, "Type the username exactly")
		p = e.follow(t, base+"/"+id+"/delete", url.Values{"confirm": {"ada"}})
		wantPage(t, p, http.StatusOK, "Identity ada deleted.")
		// The deleted identity's page says so instead of failing.
		wantPage(t, e.get(t, base+"/"+id), http.StatusNotFound, "deleted meanwhile")
	})
}

// TestIdentitySearchPaging pages through a search of each field in its
// order: no row twice, none left out, each identity once though its
// username and e-mail address both match.
func TestIdentitySearchPaging(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		realm := e.api(t, "POST", "/realms", map[string]any{"realm": map[string]any{"display_name": "Many", "classification": "SECURE_CUSTOMER"}})["id"].(string)
		if _, err := loadtest.SeedIdentities(t.Context(), e.node.Store, e.tenant(), realm, console.PageSize+7); err != nil {
			t.Fatal(err)
		}
		row := regexp.MustCompile(`<td>(user\d+)</td>`)
		next := regexp.MustCompile(`<a href="([^"]+)">Next page</a>`)
		for _, by := range []string{"username", "email", "name"} {
			prefix := map[string]string{"username": "USER00000", "email": "user00000", "name": "load user"}[by]
			var seen []string
			path := "/console/realms/" + realm + "/identities?q=" + url.QueryEscape(prefix)
			for pages := 0; path != ""; pages++ {
				if pages > 3 {
					t.Fatalf("%s: too many pages", by)
				}
				p := e.get(t, path)
				wantPage(t, p, http.StatusOK)
				for _, m := range row.FindAllStringSubmatch(p.body, -1) {
					seen = append(seen, m[1])
				}
				path = ""
				if m := next.FindStringSubmatch(p.body); m != nil {
					path = html.UnescapeString(m[1])
				}
			}
			if len(seen) != console.PageSize+7 || !slices.IsSortedFunc(seen, func(a, b string) int { return cmpBy(by, a, b) }) || len(slices.Compact(slices.Clone(seen))) != len(seen) {
				t.Fatalf("by %s: %d rows %v", by, len(seen), seen)
			}
		}
	})
}

// cmpBy orders seeded usernames as the field by lists them: their display
// names ("Load User 12") sort as text, not as numbers.
func cmpBy(by, a, b string) int {
	if by == "name" {
		return strings.Compare(seededName(a), seededName(b))
	}
	return strings.Compare(a, b)
}

func seededName(username string) string {
	n, _ := strconv.Atoi(strings.TrimPrefix(username, "user"))
	return "load user " + strconv.Itoa(n)
}

func TestSessionAndCSRF(t *testing.T) {
	e := start(t, "sqlite", "")
	realm := e.admin()
	// Without the CSRF token a form post is refused, and nothing is created.
	p := e.post(t, "/console/realms/"+realm+"/identities", url.Values{"csrf": {"wrong"}, "traits.username": {"mallory"}})
	wantPage(t, p, http.StatusForbidden, "This form has expired")
	if n := len(e.api(t, "GET", "/realms/"+realm+"/identities?filter="+url.QueryEscape(`traits.username eq "mallory"`), nil)["identities"].([]any)); n != 0 {
		t.Fatalf("a post without CSRF token created %d identities", n)
	}
	// A cross-site post is refused even with the token.
	req, _ := http.NewRequest("POST", e.url+"/console/realms/"+realm+"/identities", strings.NewReader(url.Values{"csrf": {e.csrf}, "traits.username": {"mallory"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if p := e.do(t, req); p.status != http.StatusForbidden {
		t.Fatalf("cross-site post: %d", p.status)
	}
	// Every page has the strict CSP.
	p = e.get(t, "/console/realms")
	if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Fatalf("CSP %q", csp)
	}
	// Signing out revokes the token: the old cookie no longer opens a page.
	jar := e.hc.Jar
	u, _ := url.Parse(e.url + "/console/")
	old := jar.Cookies(u)
	p = e.post(t, "/console/logout", url.Values{})
	if p.status != http.StatusSeeOther || !strings.Contains(p.location, "/console/login") {
		t.Fatalf("logout: %d %s", p.status, p.location)
	}
	jar.SetCookies(u, old)
	if p := e.get(t, "/console/realms"); p.status != http.StatusSeeOther || !strings.Contains(p.location, "/console/login?reason=expired") {
		t.Fatalf("the revoked session still opens a page: %d %s", p.status, p.location)
	}
	// No session: a page sends to sign-in, remembering where to return.
	e.hc.Jar, _ = cookiejarNew()
	if p := e.get(t, "/console/realms/"+realm+"/identities"); p.status != http.StatusSeeOther || !strings.Contains(p.location, "return=%2Fconsole%2Frealms") {
		t.Fatalf("no session: %d %s", p.status, p.location)
	}
}

// TestIdleTimeout: a session unused for longer than the idle timeout ends,
// and one in use is kept alive.
func TestIdleTimeout(t *testing.T) {
	e := start(t, "sqlite", "")
	e.console.IdleTimeout = 10 * time.Minute
	u, _ := url.Parse(e.url + "/console/")
	token := e.node.Token(t, "")
	e.hc.Jar.SetCookies(u, console.SessionCookieSeen(e.console, token, time.Now().Add(-11*time.Minute)))
	if p := e.get(t, "/console/realms"); p.status != http.StatusSeeOther || !strings.Contains(p.location, "reason=idle") {
		t.Fatalf("idle session: %d %s", p.status, p.location)
	}
	e.hc.Jar.SetCookies(u, console.SessionCookieSeen(e.console, token, time.Now().Add(-9*time.Minute)))
	p := e.get(t, "/console/realms")
	wantPage(t, p, http.StatusOK, "Realms")
	ck := p.header.Get("Set-Cookie")
	if !strings.Contains(ck, "latchkey_console=") || !strings.Contains(ck, "HttpOnly") || !strings.Contains(ck, "SameSite=Lax") {
		t.Fatalf("the session in use was not renewed: %q", ck)
	}
}

// TestSecureCookies: under an https public URL every cookie is Secure.
func TestSecureCookies(t *testing.T) {
	e := start(t, "sqlite", "")
	p := e.get(t, "/console/login/start")
	if ck := p.header.Get("Set-Cookie"); strings.Contains(ck, "Secure") || !strings.Contains(ck, "HttpOnly") {
		t.Fatalf("http: %q", ck)
	}
	e.console.PublicURL = "https://console.example.com"
	p = e.get(t, "/console/login/start")
	if ck := p.header.Get("Set-Cookie"); !strings.Contains(ck, "Secure") {
		t.Fatalf("https: %q", ck)
	}
	if !strings.HasPrefix(p.location, e.console.OAuth.Issuer(e.tenant(), e.admin(), e.console.Client.ApplicationID)+"/authorize?") ||
		!strings.Contains(p.location, "code_challenge_method=S256") || !strings.Contains(p.location, url.QueryEscape("https://console.example.com/console/callback")) ||
		!strings.Contains(p.location, "prompt=login") { // a passkey every time, whatever the browser's session
		t.Fatalf("sign-in redirect %s", p.location)
	}
}

func TestScopes(t *testing.T) {
	e := start(t, "sqlite", "realms:read identities:read")
	realm := e.admin()
	wantPage(t, e.get(t, "/console/realms/"+realm+"/identities"), http.StatusOK, "Identities")
	p := e.post(t, "/console/realms/"+realm+"/identities", url.Values{"traits.username": {"eve"}})
	wantPage(t, p, http.StatusForbidden, "does not grant identities:create")

	// Without realms:read there is no switcher, but the realm's pages work.
	e.signIn(t, e.node.Token(t, "identities:read"))
	wantPage(t, e.get(t, "/console/realms/"+realm+"/identities"), http.StatusOK, ">admin<")
}

// TestAddIdentityEmpty: the empty form flags the required username alone,
// in words, as an alert; the optional name is not "empty string".
func TestAddIdentityEmpty(t *testing.T) {
	e := start(t, "sqlite", "")
	p := e.post(t, "/console/realms/"+e.admin()+"/identities", url.Values{"display_name": {""}, "traits.username": {""}, "traits.primary_email_address": {""}})
	wantPage(t, p, http.StatusUnprocessableEntity, `id="e-traits.username" role="alert">Required: fill this in.</p>`)
	if strings.Contains(p.body, `id="e-display_name"`) || strings.Contains(p.body, "empty string") {
		t.Fatalf("the optional name is flagged: %s", excerpt(p.body))
	}
}

// TestPreviewLinkLifetime: the sample e-mail's link expires when a real
// link would (the node's --binding-link-ttl), not in a day.
func TestPreviewLinkLifetime(t *testing.T) {
	e := startWith(t, "sqlite", "", func(c *server.Config) { c.BindingLinkTTL = 72 * time.Hour })
	want := e.node.Passkeys.Clock.Now().Add(72 * time.Hour).UTC().Format("2 January 2006")
	wantPage(t, e.get(t, "/console/realms/"+e.admin()+"/branding/preview"), http.StatusOK, "expires on "+want)
}

// TestTraitSectionsCoverTraits: the edit form's sections hold every trait once.
func TestTraitSectionsCoverTraits(t *testing.T) {
	got := slices.Sorted(slices.Values(console.SectionFields()))
	want := slices.Sorted(slices.Values(directory.TraitNames))
	if !slices.Equal(got, want) {
		t.Fatalf("sections hold %q,\nthe traits are %q", got, want)
	}
}
