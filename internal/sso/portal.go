package sso

import (
	"cmp"
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/internal/saml"
)

// The app portal: a realm's page of the applications a signed-in identity
// may open, one tile per config assigned to it (directly or through a
// group) whose is_tile_visible is not false and that can be launched.

// AppTile is one application of the app portal.
type AppTile struct {
	ConfigID, Type, Name string
	// Icon is the payload's icon (an https URL or a data: image), or "".
	Icon string
	// URL launches the application: a path of Latchkey's for a SAML
	// service provider (IdP-initiated sign-in), else the application's
	// own address (see launchURL).
	URL string
}

// portalPage is how many configs one query of Tiles reads.
const portalPage = 1000

// Tiles returns the app portal's tiles of identityID, by name (then id).
// The configs assigned to it are read a thousand at a time, each read one
// query that answers direct and group assignments alike; of each payload
// only the fields of a tile are decoded, and backed configs' applications
// are not read.
func (s *Service) Tiles(ctx context.Context, tenantID, realmID, identityID string) ([]AppTile, error) {
	tiles := []AppTile{}
	for after := ""; ; {
		cs, err := s.store.ListTileConfigsOfIdentity(ctx, realmID, identityID, after, portalPage)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			if t, ok := tile(c); ok && c.TenantID == tenantID {
				tiles = append(tiles, t)
			}
		}
		if len(cs) < portalPage {
			break
		}
		after = cs[len(cs)-1].ID
	}
	slices.SortFunc(tiles, func(a, b AppTile) int {
		return cmp.Or(cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)), cmp.Compare(a.ConfigID, b.ConfigID))
	})
	return tiles, nil
}

// tileFields are the payload fields a tile is made of, of any type (the
// payload was validated when it was stored).
type tileFields struct {
	Tile
	RedirectURIs     []string         `json:"redirect_uris"`
	OktaRegistration OktaRegistration `json:"okta_registration"`
	AudienceURL      string           `json:"audience_url"` // ws_fed: its wtrealm
	ACSURL           string           `json:"acs_url"`      // ws_fed: its wreply
}

// tile is what the portal shows of c, ok false when it shows nothing:
// is_tile_visible is false, or c is no application a browser can open.
func tile(c TileConfig) (AppTile, bool) {
	t := AppTile{ConfigID: c.ID, Type: c.Type, Name: c.DisplayName}
	var p tileFields
	if err := json.Unmarshal(c.Payload, &p); err != nil {
		return t, false
	}
	switch c.Type {
	case TypeBookmark:
		t.URL = p.LoginLink
	case TypeSAML:
		t.URL = saml.Path(c.TenantID, c.RealmID, c.ID) + "/idp-initiated"
	case TypeWSFed:
		// An IdP-initiated wsignin1.0: the relying party's own realm and
		// reply URL, so the token goes to it as to a sign-in it asked for.
		t.URL = saml.WSFedPath(c.TenantID, c.RealmID, c.ID) + "?" + url.Values{
			"wa": {"wsignin1.0"}, "wtrealm": {p.AudienceURL}, "wreply": {p.ACSURL}}.Encode()
	case TypeGenericOIDC:
		t.URL = cmp.Or(p.LoginLink, homeOf(p.RedirectURIs))
	case TypeOktaSSOBIIdP:
		// The Okta org's sign-in, which sends its people to Latchkey.
		t.URL = "https://" + p.OktaRegistration.Domain + "/"
	}
	t.Icon = p.Icon
	visible := p.IsTileVisible == nil || *p.IsTileVisible
	return t, t.URL != "" && visible
}

// homeOf is the login link of an OIDC application that gives none: the
// origin of its first web redirect URI, the application's own site, which
// starts the sign-in (only the application can make its authorization
// request, with its state and PKCE). "" when it has no web redirect URI.
func homeOf(redirectURIs []string) string {
	for _, r := range redirectURIs {
		if webURLProblem(r) == "" {
			u, _ := url.Parse(r)
			return u.Scheme + "://" + u.Host + "/"
		}
	}
	return ""
}
