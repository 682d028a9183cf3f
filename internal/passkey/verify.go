package passkey

import (
	"context"
	"errors"

	"github.com/latchkey/latchkey"
)

// VerificationDetails says how a binding job's user is verified before
// its link binds a passkey (Beyond Identity's verification_details): by an
// identity provider (idp_authorization), or by the link alone (magic_link,
// the default).
type VerificationDetails struct {
	MagicLink        *struct{}         `json:"magic_link,omitempty"`
	IdPAuthorization *IdPAuthorization `json:"idp_authorization,omitempty"`
}

// IdPAuthorization names the identity provider (oidc_idp) of the job's
// realm that must vouch for its identity; the display name is read-only.
type IdPAuthorization struct {
	IdentityProviderID          string `json:"identity_provider_id"`
	IdentityProviderDisplayName string `json:"identity_provider_display_name"`
}

// errUnverified refuses a bind before the identity provider vouched.
var errUnverified = latchkey.Errorf(latchkey.CodeForbidden,
	"an identity provider must vouch for you before this link binds a passkey: open the link in a browser")

// checkVerification checks a job's verification details in tx: one way,
// and an identity provider of the realm, whose display name it fills.
func checkVerification(ctx context.Context, tx Tx, tenantID, realmID string, d *VerificationDetails) error {
	const field = "verification_details"
	switch {
	case d == nil || d.IdPAuthorization == nil:
		return nil
	case d.MagicLink != nil:
		return latchkey.InvalidField(field, "give magic_link or idp_authorization, not both")
	case d.IdPAuthorization.IdentityProviderID == "":
		return latchkey.InvalidField(field+".idp_authorization.identity_provider_id", "empty string")
	}
	name, err := tx.IdentityProviderName(ctx, tenantID, realmID, d.IdPAuthorization.IdentityProviderID)
	if errors.Is(err, latchkey.ErrNotFound) {
		return latchkey.InvalidField(field+".idp_authorization.identity_provider_id", "no identity provider of the realm has this id")
	}
	d.IdPAuthorization.IdentityProviderDisplayName = name
	return err
}

// VerifyingIdP is the identity provider that must vouch for the job's
// identity before its link binds a passkey: the job's idp_authorization,
// else its authenticator config's (a console config whose
// onboarding_configuration.verification_method is {"type": "idp"}); ""
// for none.
func (inv Invocation) VerifyingIdP() string {
	if d := inv.Job.VerificationDetails; d != nil && d.IdPAuthorization != nil {
		return d.IdPAuthorization.IdentityProviderID
	}
	return inv.Config.Config.verifyingIdP()
}

// Unverified reports whether the link may not bind yet: an identity
// provider must vouch first.
func (inv Invocation) Unverified() bool {
	return inv.VerifyingIdP() != "" && inv.Job.VerifyTime == nil
}

func (c Config) verifyingIdP() string {
	if id, _ := c.verificationMethod()["idp_id"].(string); c.verifiesByIdP() {
		return id
	}
	return ""
}

// verifiesByIdP reports whether a console config's verification_method is idp.
func (c Config) verifiesByIdP() bool {
	return c.Type == Console && c.verificationMethod()["type"] == "idp"
}

func (c Config) verificationMethod() map[string]any {
	onboarding, _ := c.OnboardingConfiguration.(map[string]any)
	method, _ := onboarding["verification_method"].(map[string]any)
	return method
}

// Verified records that the identity provider idpID vouched for the
// identity of the job that token opens, and returns its link, where the
// browser goes back to bind.
func (s *Service) Verified(ctx context.Context, tenantID, realmID, identityID, jobID, token, idpID string) (string, error) {
	var link string
	err := s.store.Update(ctx, func(tx Tx) error {
		inv, err := s.invocation(ctx, tx, tenantID, realmID, identityID, jobID, token)
		if err != nil {
			return err
		}
		if inv.VerifyingIdP() != idpID {
			return latchkey.Errorf(latchkey.CodeBadRequest, "this link is not verified by this identity provider")
		}
		link = s.Link(inv.Job, token)
		return tx.SetBindingJobVerified(ctx, jobID, s.Clock.Now())
	})
	return link, err
}
