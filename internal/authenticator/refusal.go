package authenticator

import (
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"

	"github.com/latchkey/latchkey/internal/httpx"
	"github.com/latchkey/latchkey/internal/mail"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/passkey"
	"github.com/latchkey/latchkey/internal/sso"
)

// Why a sign-in was refused, as the refusal page tells it.
const (
	refusedNoPasskey = "no_passkey"
	refusedRevoked   = "revoked"
	refusedCloned    = "cloned"
	refusedSuspended = "suspended"
	refusedDenied    = "denied"
	refusedUnknown   = "unknown" // Entra ID named an account the realm does not have (eam.go)
	// Refused by the realm's launch mechanisms (launch.go).
	refusedWebLaunch     = "launch_web"
	refusedDeviceLaunch  = "launch_device"
	refusedRoamingLaunch = "launch_roaming"
	refusedSDKLaunch     = "launch_sdk"
	// Through an upstream identity provider (upstream.go).
	refusedUpstreamUnknown = "upstream_unknown"
	refusedUpstreamDenied  = "upstream_denied"
)

// refusalTexts are what the refusal page says of each refusal, in the
// words of the person refused: never the policy's rules (the sign-in log
// has those, for the administrator).
var refusalTexts = map[string]struct{ Title, Reason string }{
	refusedNoPasskey: {"This passkey is not registered here",
		"The passkey you chose is not one of this account's passkeys. Try another passkey, or ask for a link to create one on this device."},
	refusedRevoked: {"This passkey was revoked",
		"It can no longer sign in. Use another of your passkeys, or ask for a link to create a new one."},
	refusedCloned: {"This passkey cannot be used",
		"It looks as if it was copied, so it was refused to keep your account safe. Use another passkey, or ask for a new one."},
	refusedSuspended: {"Your account is suspended",
		"It cannot sign in until an administrator reactivates it."},
	refusedDenied: {"You do not have access to this application",
		"Your account is not allowed to use it. If you need it for your work, ask your administrator for access."},
	refusedUnknown: {"Your account is not set up here",
		"Microsoft Entra ID asked to confirm an account that has no passkey sign-in here. Ask your administrator to set it up."},
	refusedWebLaunch: {"Signing in from a web browser is turned off",
		"Your administrator does not let you sign in from a web browser on this kind of device. Sign in from another device, or ask your administrator."},
	refusedDeviceLaunch: {"Passkeys of this device are turned off",
		"Your administrator does not let you sign in with a passkey of this device here. Choose a passkey of another device, such as your phone or a security key."},
	refusedRoamingLaunch: {"Passkeys of other devices are turned off",
		"Your administrator does not let you sign in with a passkey of another device, such as a phone or a security key. Use a passkey of this device."},
	refusedSDKLaunch: {"Signing in from this app is turned off",
		"Your administrator does not let you sign in from apps on this kind of device. Sign in from another device, or ask your administrator."},
	refusedUpstreamUnknown: {"No account here matches yours",
		"The identity provider signed you in, but no account of this organisation has your name or address. Ask your administrator."},
	refusedUpstreamDenied: {"You may not sign in this way",
		"Your account is not allowed to sign in with this identity provider. Use a passkey, or ask your administrator for access."},
}

// refusalKind is the refusal that err is, or "" when err is no refusal
// the person can do something about (a malformed assertion, a fault).
func refusalKind(err error) string {
	var denied *oauth.Denied
	switch {
	case errors.Is(err, passkey.ErrUnknownPasskey):
		return refusedNoPasskey
	case errors.Is(err, passkey.ErrRevokedPasskey):
		return refusedRevoked
	case errors.Is(err, passkey.ErrClonedPasskey):
		return refusedCloned
	case errors.Is(err, passkey.ErrSuspended):
		return refusedSuspended
	case errors.As(err, &denied):
		return refusedDenied
	}
	if d, ok := errors.AsType[*sso.LaunchDisabled](err); ok {
		return launchKind(d)
	}
	return ""
}

// refusal is a refused sign-in as its page shows it. The hosted page's
// script is sent to the page by a URL that carries it sealed, so that no
// one can make Latchkey show another application's name or send the
// browser elsewhere than the application's redirect URI.
type refusal struct {
	Kind        string `json:"kind"`
	TenantID    string `json:"tenant_id"`
	RealmID     string `json:"realm_id"`
	AppID       string `json:"app_id"`
	Application string `json:"application"` // its display name
	// Back is the authorization response (error=access_denied, state)
	// for the application's redirect URI, posted there when FormPost.
	Back        string `json:"back"`
	FormPost    bool   `json:"form_post,omitempty"`
	RedirectURI string `json:"redirect_uri"`
}

// newRefusal is the refusal of the sign-in req of the application named
// application, for the reason kind.
func newRefusal(kind string, req oauth.AuthRequest, application string) refusal {
	description := oauth.DeniedDescription
	if kind != refusedDenied {
		description = refusalTexts[kind].Title
	}
	return refusal{Kind: kind, TenantID: req.TenantID, RealmID: req.RealmID, AppID: req.ApplicationID, Application: application,
		Back: oauth.Deny(req, description), FormPost: req.Params.FormPost(), RedirectURI: req.Params.RedirectURI}
}

// refusalURL is the address of the refusal page of f, which carries f sealed.
func (s *Server) refusalURL(f refusal) string {
	b, _ := json.Marshal(f)
	return s.OAuth.Issuer(f.TenantID, f.RealmID, f.AppID) + "/refused?r=" + url.QueryEscape(s.OAuth.Box().Seal(b))
}

// refusalPage is what the refusal page shows.
type refusalPage struct {
	Nonce       string
	Theme       mail.Theme
	Realm       string
	Application string
	Kind        string
	Title       string
	Reason      string
	Back        template.URL // a redirect URI checked when the sign-in started: any scheme it has
	FormPost    bool
	Fields      map[string]string
}

// refused serves the page of a refusal that the sign-in page's script was
// sent to.
func (s *Server) refused(w http.ResponseWriter, r *http.Request) {
	var f refusal
	b, err := s.OAuth.Box().Open(r.URL.Query().Get("r"))
	if err == nil {
		err = json.Unmarshal(b, &f)
	}
	if err != nil || f.TenantID != r.PathValue("tenant") || f.RealmID != r.PathValue("realm") || f.AppID != r.PathValue("app") {
		s.pageError(w, r, http.StatusBadRequest, "this page's address is not valid; start again from the application")
		return
	}
	s.showRefusal(w, r, f)
}

// showRefusal renders the refusal page of f: the application's name, the
// reason in words, the realm's support link (its theme's) and a button
// that takes the refusal back to the application.
func (s *Server) showRefusal(w http.ResponseWriter, r *http.Request, f refusal) {
	theme, err := s.Mail.ActiveTheme(r.Context(), f.TenantID, f.RealmID)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	text := refusalTexts[f.Kind]
	p := refusalPage{Theme: theme, Realm: theme.EmailRealmName, Application: f.Application, Kind: f.Kind,
		Title: text.Title, Reason: text.Reason, Back: template.URL(f.Back), FormPost: f.FormPost}
	formAction := ""
	if f.FormPost {
		formAction, p.Back, p.Fields = f.RedirectURI, template.URL(f.RedirectURI), map[string]string{}
		for k, v := range oauth.FormFields(f.RedirectURI, f.Back) {
			p.Fields[k] = v[0]
		}
	}
	p.Nonce = s.pageHeadersPostingTo(w, formAction)
	w.WriteHeader(http.StatusForbidden)
	render(w, r, "refused.html", p)
}
