package authenticator

import "github.com/latchkey/latchkey/internal/oauth"

// eamRefusal is the refusal page of an Entra ID external authentication
// method's sign-in that the hint's account may not make (oauth.EAMRefused):
// its button posts access_denied to Entra, as Microsoft expects a refusal.
func eamRefusal(e *oauth.EAMRefused, tenant, realm, appID, application string) refusal {
	kind := map[string]string{oauth.EAMUnknown: refusedUnknown, oauth.EAMSuspended: refusedSuspended}[e.Kind]
	if kind == "" {
		kind = refusedDenied
	}
	return refusal{Kind: kind, TenantID: tenant, RealmID: realm, AppID: appID, Application: application,
		Back: e.Redirect.URL, FormPost: e.Redirect.FormPost, RedirectURI: e.Redirect.RedirectURI}
}
