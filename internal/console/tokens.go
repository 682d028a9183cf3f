package console

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/oauth"
)

// The API tokens page manages the tokens of the admin realm's management
// application: management tokens span the tenant, so there is one list, on
// the admin realm; the page of any other realm links there.
func (c *Console) tokenRoutes(mux *http.ServeMux) {
	c.handle(mux, "GET "+realmPrefix+"/tokens", c.tokens, "tokens:read")
	c.handle(mux, "POST "+realmPrefix+"/tokens", c.createToken, "tokens:read")
	c.handle(mux, "POST "+realmPrefix+"/tokens/{token}/delete", c.deleteToken, "tokens:delete")
}

type lifetime struct{ Seconds, Label string }

// lifetimes are the lifetimes offered, in seconds; the management
// application's own (24 hours) bounds all but SCIM-only tokens.
var lifetimes = []lifetime{
	{"3600", "1 hour"}, {"28800", "8 hours"}, {"86400", "24 hours"}, {"2592000", "30 days (SCIM scopes only; others get 24 hours)"},
}

// tokenRow is a token as the list shows it.
type tokenRow struct {
	oauth.Token
	ExpireTime time.Time
}

// tokensView is the page: the list, the form to create one, and the token
// just created, shown this once.
type tokensView struct {
	AdminRealm        string // where the page lives, when this is another realm
	Page              listPage[tokenRow]
	Form              *form
	Scopes            []string // every management scope
	Chosen            []string
	Lifetimes         []lifetime
	Created           *oauth.TokenResponse
	CreatedExpireTime time.Time
}

func (c *Console) tokens(q *request) error {
	return c.showTokens(q, http.StatusOK, tokensView{Form: &form{Values: map[string]string{"lifetime": "3600"}, Errors: map[string]string{}}})
}

func (c *Console) showTokens(q *request, status int, v tokensView) error {
	if q.realm.ID != c.Client.RealmID {
		v.AdminRealm = c.Client.RealmID
		q.render(status, "tokens.html", "API tokens", "tokens", v)
		return nil
	}
	items, _, err := c.OAuth.ListTokens(q.Context(), q.tenantID, c.Client.RealmID, c.Management.ApplicationID, oauth.TokenFilter{},
		latchkey.ListOptions{After: q.FormValue("after"), Limit: PageSize + 1, SkipTotal: true})
	if err != nil {
		return err
	}
	rows := make([]tokenRow, len(items))
	for i, t := range items {
		rows[i] = tokenRow{Token: t, ExpireTime: time.Unix(t.Expires, 0)}
	}
	v.Page = pageOf(rows, func(r tokenRow) string { return r.ID })
	v.Scopes, v.Lifetimes = oauth.ManagementScopes, lifetimes
	q.render(status, "tokens.html", "API tokens", "tokens", v)
	return nil
}

// createToken mints a management token through the client-credentials
// grant of the management application. An administrator can grant only
// scopes their own session holds (the service refuses others): the console
// must not widen what a role allows.
func (c *Console) createToken(q *request) error {
	f := q.newForm("scope", "lifetime")
	chosen := nonEmpty(q.PostForm["scope"])
	v := tokensView{Form: f, Chosen: chosen}
	if len(chosen) == 0 {
		f.Errors["scope"] = "Choose at least one scope."
	}
	if !slices.ContainsFunc(lifetimes, func(l lifetime) bool { return l.Seconds == f.Values["lifetime"] }) {
		f.Errors["lifetime"] = "Choose a lifetime."
	}
	if len(f.Errors) > 0 {
		return c.showTokens(q, http.StatusUnprocessableEntity, v)
	}
	tok, err := c.OAuth.IssueToken(q.Context(), oauth.TokenRequest{TenantID: q.tenantID, RealmID: c.Client.RealmID,
		ApplicationID: c.Management.ApplicationID, Scope: strings.Join(chosen, " "), ExpirationTime: f.Values["lifetime"]})
	var oe *oauth.Error
	if errors.As(err, &oe) {
		f.Message = "The token could not be created: " + oe.Description + "."
		return c.showTokens(q, http.StatusUnprocessableEntity, v)
	}
	if err != nil {
		return err
	}
	v.Created, v.CreatedExpireTime = &tok, c.Clock.Now().Add(time.Duration(tok.ExpiresIn)*time.Second)
	v.Form, v.Chosen = &form{Values: map[string]string{"lifetime": f.Values["lifetime"]}, Errors: map[string]string{}}, nil
	return c.showTokens(q, http.StatusCreated, v)
}

// deleteToken revokes a token of the management application.
func (c *Console) deleteToken(q *request) error {
	id := q.PathValue("token")
	if err := c.OAuth.DeleteToken(q.Context(), q.tenantID, c.Client.RealmID, c.Management.ApplicationID, id); err != nil {
		return err
	}
	q.redirect(q.realmPath("/tokens"), "Token "+id+" revoked.")
	return nil
}
