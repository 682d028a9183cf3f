package authenticator

import (
	"errors"
	"html/template"
	"net/http"
	"strings"

	"github.com/latchkey/latchkey/internal/httpx"
	"github.com/latchkey/latchkey/internal/mail"
	"github.com/latchkey/latchkey/internal/oauth"
)

// portalRoutes are a realm's app portal: the tiles of the applications
// (SSO configs) that the browser's signed-in identity is assigned to,
// each opening its application. Without a session of the realm it signs
// in with a passkey first, as the account page does, and shows the tiles
// after. It serves the session's identity only, and changes nothing but
// the session: its sign-in post needs a same-origin request.
func (s *Server) portalRoutes(mux *httpx.Mux) {
	sameOrigin := http.NewCrossOriginProtection()
	portal := httpx.RealmPath + "/portal"
	mux.HandleFunc("GET "+portal, s.portalPage)
	mux.Handle("POST "+portal+"/signin", sameOrigin.Handler(http.HandlerFunc(s.portalSignIn)))
}

// PortalPath is the path of a realm's app portal.
func PortalPath(tenantID, realmID string) string {
	return "/v1/tenants/" + tenantID + "/realms/" + realmID + "/portal"
}

// portalPage is what the app portal shows: the sign-in (SignIn set) or
// the signed-in identity's tiles.
type portalPage struct {
	Nonce          string
	Theme          mail.Theme
	Realm          string
	SignIn         any
	Name, Username string
	Tiles          []portalTile
	Account        string // the account page's path
}

// portalTile is a tile as the page links it. Its URL and icon were
// checked when the config was stored (https, or http on loopback; a data:
// image), or are Latchkey's own paths.
type portalTile struct {
	ID, Name  string
	URL, Icon template.URL
	Initial   string // shown when there is no icon
}

// portalPage serves the app portal.
func (s *Server) portalPage(w http.ResponseWriter, r *http.Request) {
	tenant, realm := r.PathValue("tenant"), r.PathValue("realm")
	ctx := r.Context()
	ss, _, signedIn, err := s.account(r)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	theme, err := s.Mail.ActiveTheme(ctx, tenant, realm)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	p := portalPage{Theme: theme, Realm: theme.EmailRealmName, Account: accountPath(tenant, realm)}
	if signedIn {
		identity, err := s.OAuth.SessionIdentity(ctx, ss)
		signedIn = err == nil
		if err != nil && !errors.Is(err, oauth.ErrSessionEnded) {
			httpx.WriteError(w, r, err)
			return
		}
		p.Name, p.Username = identity.DisplayName, identity.Traits.Username
	}
	if signedIn {
		tiles, err := s.SSO.Tiles(ctx, tenant, realm, ss.IdentityID)
		if err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		p.Tiles = make([]portalTile, len(tiles))
		for i, t := range tiles {
			p.Tiles[i] = portalTile{ID: t.ConfigID, Name: t.Name, URL: template.URL(t.URL), Icon: template.URL(t.Icon),
				Initial: strings.ToUpper(string([]rune(t.Name)[:1]))}
		}
	} else if p.SignIn, err = s.pageSignIn(r, PortalPath(tenant, realm)+"/signin"); err != nil {
		s.pageSignInError(w, r, err)
		return
	}
	p.Nonce = s.pageHeaders(w)
	render(w, r, "portal.html", p)
}

// portalSignIn finishes the app portal's sign-in, back to the portal.
func (s *Server) portalSignIn(w http.ResponseWriter, r *http.Request) {
	s.finishPageSignIn(w, r, PortalPath(r.PathValue("tenant"), r.PathValue("realm")))
}
