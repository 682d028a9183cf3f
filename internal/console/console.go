package console

import (
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/mail"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/passkey"
	"github.com/latchkey/latchkey/internal/policy"
	"github.com/latchkey/latchkey/internal/provisioning"
	"github.com/latchkey/latchkey/internal/secretbox"
	"github.com/latchkey/latchkey/internal/sso"
	"github.com/latchkey/latchkey/internal/webhook"
)

// Client is the console's OIDC application in the admin realm.
type Client struct {
	TenantID, RealmID, ApplicationID string
	ClientID, ClientSecret           string
}

// Management is the management application of the admin realm (the one
// bootstrap made), whose tokens the API tokens page mints. The page needs
// no secret: the service issues them within the administrator's scopes, and
// the secret may be regenerated while the console runs.
type Management struct {
	ApplicationID string
}

// Console serves the admin console. Its services are the ones the API uses.
type Console struct {
	Directory    *directory.Service
	OAuth        *oauth.Service
	Passkeys     *passkey.Service
	Policy       *policy.Service
	Mail         *mail.Service
	Provisioning *provisioning.Service
	Events       audit.Store
	Webhooks     *webhook.Service
	// SSO serves the SSO config pages; nil serves none.
	SSO *sso.Service
	// Box seals the session cookies, with the key every node shares.
	Box    *secretbox.Box
	Client Client
	// Management mints the tokens of the API tokens page; it lives in
	// Client's tenant and realm.
	Management Management
	// PublicURL is the external base URL; an https one makes cookies Secure.
	PublicURL string
	// IdleTimeout ends a session nobody used for that long; zero means
	// DefaultIdleTimeout.
	IdleTimeout time.Duration
	Logger      *slog.Logger
	// Clock times sessions and dates what the pages show.
	Clock latchkey.Clock
}

// DefaultIdleTimeout is how long an unused session stays signed in.
const DefaultIdleTimeout = 30 * time.Minute

// Prefix is where the console is served.
const Prefix = "/console"

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// pages holds one template set per page: the layout and the page's content.
var pages = parsePages()

func parsePages() map[string]*template.Template {
	base := template.Must(template.New("").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html"))
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		panic(err)
	}
	out := map[string]*template.Template{}
	for _, name := range names {
		name = strings.TrimPrefix(name, "templates/")
		if name == "layout.html" {
			continue
		}
		out[name] = template.Must(template.Must(base.Clone()).ParseFS(templateFiles, "templates/"+name))
	}
	return out
}

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	// at is when with seconds, for the events (sign-ins happen within a minute).
	"at":       func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"lower":    strings.ToLower,
	"contains": slices.Contains[[]string],
	"add":      func(a, b int) int { return a + b },
	"sections": func() []section { return sections },
	"state":    stateLabel,
	"label":    fieldLabel,
	// dict builds the argument of a sub-template from key, value pairs.
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	},
}

// Handler returns the console's routes, all under Prefix.
func (c *Console) Handler() http.Handler {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Prefix+"/static/{file}", serveStatic)
	mux.HandleFunc("GET "+Prefix+"/login", c.loginPage)
	mux.HandleFunc("GET "+Prefix+"/login/start", c.loginStart)
	mux.HandleFunc("GET "+Prefix+"/callback", c.callback)
	c.handle(mux, "POST "+Prefix+"/logout", c.logout)
	c.handle(mux, "GET "+Prefix+"/{$}", c.home)
	c.handle(mux, "GET "+Prefix+"/switch", c.switchRealm, "realms:read")
	c.realmRoutes(mux)
	c.identityRoutes(mux)
	c.bulkRoutes(mux)
	c.identityTabRoutes(mux)
	c.identitySessionRoutes(mux)
	c.importRoutes(mux)
	c.groupRoutes(mux)
	c.appRoutes(mux)
	c.configRoutes(mux)
	c.policyRoutes(mux)
	c.brandingRoutes(mux)
	c.emailRoutes(mux)
	c.startRoutes(mux)
	c.tryRoutes(mux)
	c.webhookRoutes(mux)
	c.ssoRoutes(mux)
	c.idpRoutes(mux)
	c.tokenRoutes(mux)
	c.eventRoutes(mux)
	// Cross-origin form posts are refused before they reach a handler, on
	// top of the per-session CSRF token that older browsers need.
	return securityHeaders(http.NewCrossOriginProtection().Handler(mux))
}

// securityHeaders are on every console answer: a CSP that runs only the
// console's own files and frames only the console's own pages, and no
// framing of the console elsewhere. A handler may replace them with
// frameableHeaders.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "+
			"connect-src 'self'; form-action 'self'; frame-src 'self'; base-uri 'none'; frame-ancestors 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("X-Frame-Options", "DENY")
		h.ServeHTTP(w, r)
	})
}

// frameableHeaders replace securityHeaders' for a document that a console
// page shows in a sandboxed iframe and that needs inline styles (an
// e-mail): it runs no script at all, loads only images, and may be framed
// by the console alone. Its images are a theme's logos, as on the hosted pages.
func frameableHeaders(w http.ResponseWriter, publicURL string) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src "+mail.LogoSources(publicURL)+"; "+
		"base-uri 'none'; form-action 'none'; frame-ancestors 'self'")
	hd.Set("X-Frame-Options", "SAMEORIGIN")
}

// request is one signed-in console request: the administrator's verified
// token, the realms of the tenant and the realm the page is about.
type request struct {
	*http.Request
	w         http.ResponseWriter
	c         *Console
	session   session
	principal oauth.Principal
	admin     string // the administrator's display name
	tenantID  string
	realms    []directory.Realm
	realm     directory.Realm // when the path names one
}

// handler is a console page or action; an error it returns is shown as a
// page (not found, conflict, …) with the status that suits it.
type handler func(q *request) error

// handle registers a page that needs a signed-in administrator holding the
// scopes listed. Unsafe methods also need the session's CSRF token.
func (c *Console) handle(mux *http.ServeMux, pattern string, h handler, scopes ...string) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		q, ok := c.signedIn(w, r)
		if !ok {
			return
		}
		if r.Method != http.MethodGet && !q.csrfValid() {
			q.fail(http.StatusForbidden, "This form has expired. Reload the page and try again.")
			return
		}
		if !q.principal.HasScopes(scopes) {
			q.fail(http.StatusForbidden, "Your administrator role does not grant "+strings.Join(scopes, " and ")+".")
			return
		}
		if err := q.loadRealms(); err != nil {
			q.showError(err)
			return
		}
		if err := h(q); err != nil {
			q.showError(err)
		}
	})
}

// loadRealms reads the tenant's realms, for the switcher (with realms:read),
// and the realm of the path, which every realm page needs.
func (q *request) loadRealms() error {
	if q.principal.HasScopes([]string{"realms:read"}) {
		realms, _, err := q.c.Directory.ListRealms(q.Context(), q.tenantID, latchkey.ListOptions{Limit: 200, SkipTotal: true})
		if err != nil {
			return err
		}
		q.realms = realms
	}
	id := q.PathValue("realm")
	if id == "" {
		return nil
	}
	if k := slices.IndexFunc(q.realms, func(r directory.Realm) bool { return r.ID == id }); k >= 0 {
		q.realm = q.realms[k] // already read: spares a query on every page
		return nil
	}
	var err error
	q.realm, err = q.c.Directory.GetRealm(q.Context(), q.tenantID, id)
	return err
}

// view is what the layout shows around a page's content.
type view struct {
	Title   string
	Section string
	CSRF    string
	Admin   string
	Realm   directory.Realm
	Realms  []directory.Realm
	Flash   string
	Scopes  []string
	// AdminRealm is the admin realm's id: API tokens are made there only.
	AdminRealm string
	Data       any
}

// render writes a whole page: the page's content with data inside the layout.
func (q *request) render(status int, page, title, section string, data any) {
	q.renderFragment(status, page, "layout", title, section, data)
}

// renderFragment writes one named template of a page, e.g. a table that
// htmx swaps in, with the same view the whole page would have.
func (q *request) renderFragment(status int, page, name, title, section string, data any) {
	v := view{Title: title, Section: section, CSRF: q.session.CSRF, Admin: q.admin, Realm: q.realm,
		Realms: q.realms, Flash: q.takeFlash(), Scopes: q.principal.Scopes, AdminRealm: q.c.Client.RealmID, Data: data}
	writePage(q.w, q.Request, status, page, name, v)
}

func writePage(w http.ResponseWriter, r *http.Request, status int, page, name string, v view) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := pages[page].ExecuteTemplate(w, name, v); err != nil {
		ctx := r.Context()
		latchkey.LoggerFrom(ctx).ErrorContext(ctx, "render console page", "page", page, "err", err, "request_id", latchkey.RequestIDFrom(ctx))
	}
}

// fail shows a message page. The layout's htmx-config swaps refusals in
// (htmx ignores 4xx and 5xx by default); an htmx request's answer would land
// in the part of the page it targets, so a message page replaces the whole
// content instead, where it is seen.
func (q *request) fail(status int, message string) {
	if q.Header.Get("HX-Request") != "" {
		h := q.w.Header()
		h.Set("HX-Retarget", "#main")
		h.Set("HX-Reselect", "#main")
		h.Set("HX-Reswap", "outerHTML")
	}
	q.render(status, "message.html", http.StatusText(status), "", message)
}

// showError shows what went wrong in words an administrator can act on: a
// resource deleted meanwhile, a conflict, a refusal; anything else is
// logged and shown as an internal error.
func (q *request) showError(err error) {
	var e *latchkey.Error
	if errors.As(err, &e) {
		status := map[string]int{latchkey.CodeNotFound: http.StatusNotFound, latchkey.CodeConflict: http.StatusConflict,
			latchkey.CodeBadRequest: http.StatusBadRequest, latchkey.CodeUnprocessable: http.StatusUnprocessableEntity,
			latchkey.CodeGone: http.StatusGone, latchkey.CodeForbidden: http.StatusForbidden}[e.Code]
		if status != 0 {
			msg := e.Message
			if e.Code == latchkey.CodeNotFound && msg != "" {
				msg = strings.ToUpper(msg[:1]) + strings.TrimSuffix(msg[1:], ".") + ": it may have been deleted meanwhile."
			}
			q.fail(status, msg)
			return
		}
	}
	if q.c.fault(q.w, q.Request, "console", err) == http.StatusServiceUnavailable {
		q.fail(http.StatusServiceUnavailable, "The database cannot be reached just now; try again in a few seconds.")
		return
	}
	q.fail(http.StatusInternalServerError, "Something went wrong on the server; it has been logged.")
}

// fault logs an error that is no refusal with the request's path and id
// (unless the client went away), and returns the status to answer: 503 with
// Retry-After when the database is unavailable, else 500.
func (c *Console) fault(w http.ResponseWriter, r *http.Request, msg string, err error) int {
	ctx := r.Context()
	status, level := http.StatusInternalServerError, slog.LevelError
	if latchkey.Unavailable(err) {
		status, level = http.StatusServiceUnavailable, slog.LevelWarn
		w.Header().Set("Retry-After", strconv.Itoa(latchkey.RetryAfter))
	}
	if ctx.Err() == nil {
		c.Logger.Log(ctx, level, msg, "path", r.URL.Path, "err", err, "request_id", latchkey.RequestIDFrom(ctx))
	}
	return status
}

// redirect answers a form post: back to a page, with a message to show there.
func (q *request) redirect(to, flash string) {
	if flash != "" {
		http.SetCookie(q.w, &http.Cookie{Name: flashCookie, Value: flashEncoding.EncodeToString([]byte(flash)),
			Path: Prefix, HttpOnly: true, Secure: q.c.secure(), SameSite: http.SameSiteLaxMode, MaxAge: 60})
	}
	if q.Header.Get("HX-Request") != "" {
		q.w.Header().Set("HX-Redirect", to)
		q.w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(q.w, q.Request, to, http.StatusSeeOther)
}

// takeFlash returns the message a redirect left, once.
func (q *request) takeFlash() string {
	ck, err := q.Cookie(flashCookie)
	if err != nil {
		return ""
	}
	http.SetCookie(q.w, &http.Cookie{Name: flashCookie, Path: Prefix, MaxAge: -1})
	b, err := flashEncoding.DecodeString(ck.Value)
	if err != nil {
		return ""
	}
	return string(b)
}

// realmPath is the path of a page of the current realm.
func (q *request) realmPath(rest string) string {
	return Prefix + "/realms/" + q.realm.ID + rest
}

// home opens the realm the administrator last used, else the admin realm.
func (c *Console) home(q *request) error {
	realm := c.Client.RealmID
	if ck, err := q.Cookie(realmCookie); err == nil && slices.ContainsFunc(q.realms, func(r directory.Realm) bool { return r.ID == ck.Value }) {
		realm = ck.Value
	}
	http.Redirect(q.w, q.Request, Prefix+"/realms/"+realm+"/identities", http.StatusSeeOther)
	return nil
}

// switchRealm is the realm switcher's target: the same section of another realm.
func (c *Console) switchRealm(q *request) error {
	id := q.FormValue("realm")
	if _, err := c.Directory.GetRealm(q.Context(), q.tenantID, id); err != nil {
		return err
	}
	to := q.FormValue("section")
	if !slices.ContainsFunc(sections, func(s section) bool { return s.Path == to }) {
		to = "identities"
	}
	http.SetCookie(q.w, &http.Cookie{Name: realmCookie, Value: id, Path: Prefix, HttpOnly: true, Secure: c.secure(),
		SameSite: http.SameSiteLaxMode, MaxAge: 365 * 24 * 3600})
	http.Redirect(q.w, q.Request, Prefix+"/realms/"+id+"/"+to, http.StatusSeeOther)
	return nil
}

// section is a realm page the navigation links to.
type section struct{ Path, Label string }

var sections = []section{
	{"start", "Getting started"}, {"identities", "Identities"}, {"groups", "Groups"}, {"applications", "Applications"},
	{"authenticator-configs", "Authenticator configs"}, {"policy", "Policy"}, {"branding", "Branding"}, {"email", "E-mail"},
	{"sso-configs", "Single sign-on"}, {"tokens", "API tokens"}, {"webhooks", "Webhooks"}, {"sign-ins", "Sign-ins"}, {"events", "Events"}, {"settings", "Realm settings"},
}
