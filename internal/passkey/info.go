package passkey

import (
	"context"
	"encoding/base64"
	"encoding/json"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/mail"
)

// maxExcluded bounds the existing passkeys an authenticator is told to skip.
const maxExcluded = 100

// Info is what an authenticator learns of a job it was invoked for (the
// SDK's :getInfo), plus the WebAuthn creation options that bind a passkey
// to it. The embedded SDK ignores the fields it does not know.
type Info struct {
	Tenant                 named               `json:"tenant"`
	Realm                  named               `json:"realm"`
	Identity               infoIdentity        `json:"identity"`
	Theme                  infoTheme           `json:"theme"`
	PostBindingRedirectURI string              `json:"post_binding_redirect_uri,omitempty"`
	AuthenticatorConfig    AuthenticatorConfig `json:"authenticator_config"`
	// ApplicationID is the application the binding is for; none yet.
	ApplicationID   string          `json:"application_id"`
	WebAuthnOptions creationOptions `json:"webauthn_options"`
}

type named struct {
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
}

type infoIdentity struct {
	ID          string     `json:"id"`
	DisplayName string     `json:"display_name"`
	Traits      infoTraits `json:"traits"`
}

// infoTheme's URLs are required by the SDK: a realm's theme that leaves
// them unset gets Latchkey's logo and public URL.
type infoTheme struct {
	LogoURLLight string `json:"logo_url_light"`
	LogoURLDark  string `json:"logo_url_dark"`
	SupportURL   string `json:"support_url"`
}

// DefaultLogoPath is where Latchkey serves its logo, relative to its URL.
const DefaultLogoPath = "/assets/logo.svg"

func or(v, fallback string) string {
	if v != "" {
		return v
	}
	return fallback
}

type infoTraits struct {
	Type                string `json:"type"`
	Username            string `json:"username"`
	PrimaryEmailAddress string `json:"primary_email_address,omitempty"`
}

// creationOptions are PublicKeyCredentialCreationOptions in their JSON
// form (WebAuthn Level 3), ready for PublicKeyCredential.parseCreationOptionsFromJSON.
type creationOptions struct {
	RP                     map[string]string              `json:"rp"`
	User                   map[string]string              `json:"user"`
	Challenge              string                         `json:"challenge"`
	PubKeyCredParams       []protocol.CredentialParameter `json:"pubKeyCredParams"`
	Timeout                int                            `json:"timeout"`
	ExcludeCredentials     []map[string]string            `json:"excludeCredentials"`
	AuthenticatorSelection map[string]string              `json:"authenticatorSelection"`
	Attestation            string                         `json:"attestation"`
}

// Info describes an invocation to its authenticator. The WebAuthn challenge
// is the binding's claims, so that any WebAuthn authenticator (the hosted
// page or the SDK) proves the same thing the SDK's software key signs.
func (s *Service) Info(ctx context.Context, inv Invocation, token string) (Info, error) {
	claims, _ := json.Marshal(bindClaims{Sub: inv.Subject(), Token: token})
	exclude := []map[string]string{}
	creds, _, err := s.store.ListCredentials(ctx, inv.Realm.ID, inv.Identity.ID, latchkey.ListOptions{Limit: maxExcluded})
	if err != nil {
		return Info{}, err
	}
	for _, c := range creds {
		if c.State == Active && c.WebAuthn != nil {
			exclude = append(exclude, map[string]string{"type": "public-key", "id": base64.RawURLEncoding.EncodeToString(c.WebAuthn.CredentialID)})
		}
	}
	theme, err := mail.RealmTheme(ctx, s.store, inv.Tenant.ID, inv.Realm.ID)
	if err != nil {
		return Info{}, err
	}
	i := inv.Identity
	return Info{
		Tenant:   named{inv.Tenant.ID, inv.Tenant.DisplayName},
		Realm:    named{inv.Realm.ID, inv.Realm.DisplayName},
		Identity: infoIdentity{i.ID, i.DisplayName, infoTraits{"traits_v0", i.Traits.Username, i.Traits.PrimaryEmailAddress}},
		Theme: infoTheme{
			LogoURLLight: or(theme.LogoURLLight, s.BaseURL+DefaultLogoPath),
			LogoURLDark:  or(theme.LogoURLDark, s.BaseURL+DefaultLogoPath),
			SupportURL:   or(theme.SupportURL, s.BaseURL),
		},
		PostBindingRedirectURI: inv.Job.PostBindingRedirectURI,
		AuthenticatorConfig:    inv.Config,
		WebAuthnOptions: creationOptions{
			RP:                     map[string]string{"name": inv.Realm.DisplayName},
			User:                   map[string]string{"id": base64.RawURLEncoding.EncodeToString([]byte(i.ID)), "name": i.Traits.Username, "displayName": i.DisplayName},
			Challenge:              base64.RawURLEncoding.EncodeToString(claims),
			PubKeyCredParams:       credentialParameters(),
			Timeout:                300000,
			ExcludeCredentials:     exclude,
			AuthenticatorSelection: map[string]string{"residentKey": "required", "userVerification": string(inv.Config.Config.userVerification())},
			Attestation:            "none",
		},
	}, nil
}
