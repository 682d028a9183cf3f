package sso

import (
	"context"
	"errors"
	"strings"

	"github.com/latchkey/latchkey"
)

// Launch mechanisms enforced: the sign-ins Latchkey serves itself, as the
// realm's flow types name them. Latchkey has no native authenticator app,
// so of the API's flows only two are its own:
//
//   - embedded: a passkey of the device that signs in. On the hosted pages
//     (OIDC and SAML sign-in, the account page and the app portal) the
//     platform is web (chromeosweb on ChromeOS); through the embedded SDK it
//     is the operating system the request comes from (android, ios, macos,
//     windows, linux, chromeos; web when it cannot be told).
//   - roaming_auth: on the hosted pages, a passkey of another device (a
//     phone by QR code, a security key: WebAuthn's cross-platform
//     attachment).
//
// The other flows (scheme, copy, pipe, localhost, …) are stored and
// answered as the API says, and enforced by nothing here.

// Launch is one sign-in as the launch mechanisms name it.
type Launch struct{ Platform, Flow string }

// HostedLaunch is a sign-in on a hosted page of a browser (userAgent) with
// a passkey whose WebAuthn attachment is attachment ("cross-platform": of
// another device; "platform" or unknown: of this one).
func HostedLaunch(userAgent, attachment string) Launch {
	l := Launch{Platform: "web", Flow: "embedded"}
	if strings.Contains(userAgent, "CrOS") {
		l.Platform = "chromeosweb"
	}
	if attachment == "cross-platform" {
		l.Flow = "roaming_auth"
	}
	return l
}

// SDKLaunch is a sign-in through the embedded SDK of an app on the device
// of userAgent.
func SDKLaunch(userAgent string) Launch {
	return Launch{Platform: osPlatform(userAgent), Flow: "embedded"}
}

// osPlatform is the platform a User-Agent names (iOS's say "like Mac OS
// X", ChromeOS's and Android's "Linux": the order matters).
func osPlatform(ua string) string {
	for _, p := range []struct{ platform, marks string }{
		{"chromeos", "CrOS"}, {"android", "Android"}, {"ios", "iPhone iPad iPod"}, {"macos", "Macintosh Darwin"},
		{"windows", "Windows"}, {"linux", "Linux X11"},
	} {
		for _, m := range strings.Fields(p.marks) {
			if strings.Contains(ua, m) {
				return p.platform
			}
		}
	}
	return "web"
}

// LaunchDisabled is the refusal of a sign-in whose launch mechanisms the
// realm turned off: all of Launches, the ways it could have signed in.
type LaunchDisabled struct{ Launches []Launch }

func (e *LaunchDisabled) Error() string {
	var ls []string
	for _, l := range e.Launches {
		ls = append(ls, l.Flow+" on "+l.Platform)
	}
	return "the realm's launch mechanisms do not allow " + strings.Join(ls, " or ")
}

// CheckLaunch returns a *LaunchDisabled when the realm enables none of
// launches (a page that may sign in either way asks for both). A realm that never changed its launch mechanisms enables every
// valid flow; its defaults are not written on this path.
func (s *Service) CheckLaunch(ctx context.Context, tenantID, realmID string, launches ...Launch) error {
	c, cached := s.launches.Get(tenantID+"/"+realmID, s.Clock.Now())
	if !cached {
		var err error
		c, err = s.store.GetFlowTypeConfig(ctx, tenantID, realmID)
		if errors.Is(err, latchkey.ErrNotFound) {
			c, err = defaultFlowTypes(tenantID, realmID, s.Clock.Now()), nil
		}
		if err != nil {
			return err
		}
		s.launches.Put(tenantID+"/"+realmID, c, s.Clock.Now())
	}
	for _, l := range launches {
		if c.Enabled(l.Platform, l.Flow) {
			return nil
		}
	}
	return &LaunchDisabled{Launches: launches}
}
