package passkey

import (
	"slices"
	"strings"

	"github.com/latchkey/latchkey"
)

// maxAAGUIDs bounds each AAGUID list of a config.
const maxAAGUIDs = 500

// Rules are the authenticator rules of a config (Latchkey extensions of
// the reference's config): which passkeys may bind with it and sign in to
// its applications. AAGUIDs are lowercase UUIDs. An authenticator says its
// AAGUID itself: without attestation verified against FIDO metadata the
// lists steer honest authenticators, they do not stop a forged one.
type Rules struct {
	// AllowedAAGUIDs, when not empty, are the only authenticators allowed:
	// passkeys of others, software passkeys and authenticators that do not
	// tell their AAGUID are refused.
	AllowedAAGUIDs []string `json:"allowed_aaguids,omitempty"`
	// DeniedAAGUIDs are authenticators refused.
	DeniedAAGUIDs []string `json:"denied_aaguids,omitempty"`
	// DeviceBoundOnly refuses synced (backup-eligible) passkeys: a passkey
	// must stay on one device, as a security key's does.
	DeviceBoundOnly bool `json:"device_bound_only,omitempty"`
}

// normalize writes the AAGUIDs in lowercase, as the list's keys are.
func (r *Rules) normalize() {
	for _, list := range [][]string{r.AllowedAAGUIDs, r.DeniedAAGUIDs} {
		for i, a := range list {
			list[i] = strings.ToLower(strings.TrimSpace(a))
		}
	}
}

// validate adds the problems of the rules to v; field names are relative
// to the config object.
func (r Rules) validate(v *latchkey.Violations) {
	for _, l := range []struct {
		field string
		list  []string
	}{{"config.allowed_aaguids", r.AllowedAAGUIDs}, {"config.denied_aaguids", r.DeniedAAGUIDs}} {
		field, list := l.field, l.list
		if len(list) > maxAAGUIDs {
			v.Add(field, "more than 500 AAGUIDs")
		}
		for i, a := range list {
			switch {
			case !aaguidPattern.MatchString(a):
				v.Add(field+"["+itoa(i)+"]", "not an AAGUID (a UUID such as cb69481e-8ff7-4039-93ec-0a2729a154a8)")
			case slices.Index(list, a) < i:
				v.Add(field+"["+itoa(i)+"]", "listed twice")
			case field == "config.denied_aaguids" && slices.Contains(r.AllowedAAGUIDs, a):
				v.Add(field+"["+itoa(i)+"]", "also in allowed_aaguids")
			}
		}
	}
}

// refused is a passkey's refusal by the authenticator rules of a config:
// a 403 whose message the hosted pages and the SDK show as it is.
func refused(format string, args ...any) error {
	return latchkey.Errorf(latchkey.CodeForbidden, format, args...)
}

// providerOf names a passkey's provider in a refusal.
func providerOf(c Credential) string {
	if c.WebAuthn == nil {
		return "a software passkey"
	}
	if name, _ := AuthenticatorName(c.WebAuthn.AAGUID); name != "" {
		return name
	}
	if a := FormatAAGUID(c.WebAuthn.AAGUID); a != "" && a != "00000000-0000-0000-0000-000000000000" {
		return "an unknown provider (AAGUID " + a + ")"
	}
	return "a provider that does not say who it is"
}

// Check returns the refusal of the passkey c by the rules, or nil when
// they allow it. The message says why and what to use instead.
func (r Rules) Check(c Credential) error {
	aaguid := ""
	if c.WebAuthn != nil {
		aaguid = FormatAAGUID(c.WebAuthn.AAGUID)
	}
	switch {
	case aaguid != "" && slices.Contains(r.DeniedAAGUIDs, aaguid):
		return refused("passkeys from %s are not allowed here; use a passkey from another provider", providerOf(c))
	case len(r.AllowedAAGUIDs) > 0 && !slices.Contains(r.AllowedAAGUIDs, aaguid):
		return refused("only passkeys from the providers this organization approved are allowed here, and this one is from %s", providerOf(c))
	case r.DeviceBoundOnly && c.Synced():
		return refused("only device-bound passkeys (such as a security key) are allowed here; this passkey from %s is synced between devices", providerOf(c))
	}
	return nil
}
