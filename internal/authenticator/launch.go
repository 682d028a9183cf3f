package authenticator

import (
	"errors"
	"net/http"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sso"
)

// The realm's launch mechanisms, enforced where a sign-in starts (the
// hosted pages refuse to show a sign-in the realm allows in no way, the
// embedded SDK's hand-over refuses) and where a passkey's assertion comes
// in (its kind of passkey, this device's or another's). internal/sso says
// which flow each is.

// hostedLaunches are the ways a hosted page may sign in the browser of r:
// with a passkey of this device, or of another.
func hostedLaunches(r *http.Request) []sso.Launch {
	return []sso.Launch{sso.HostedLaunch(r.UserAgent(), "platform"), sso.HostedLaunch(r.UserAgent(), "cross-platform")}
}

// launchKind is the refusal kind of a sign-in that launch mechanisms refuse.
func launchKind(d *sso.LaunchDisabled) string {
	switch l := d.Launches[0]; {
	case len(d.Launches) > 1:
		return refusedWebLaunch
	case l.Platform != "web" && l.Platform != "chromeosweb":
		return refusedSDKLaunch
	case l.Flow == "roaming_auth":
		return refusedRoamingLaunch
	}
	return refusedDeviceLaunch
}

// launchError is err as the hosted pages' scripts and the SDK are told of
// it: a refusal by launch mechanisms is a 403 whose message says why in
// the person's words.
func launchError(err error) error {
	if d, ok := errors.AsType[*sso.LaunchDisabled](err); ok {
		return latchkey.Errorf(latchkey.CodeForbidden, "%s", refusalTexts[launchKind(d)].Reason)
	}
	return err
}
