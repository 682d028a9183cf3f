package passkey

import (
	"context"
	"slices"
	"time"

	"github.com/latchkey/latchkey"
)

// SelfServiceTTL is how long the binding job of a passkey that an identity
// adds itself stays open: the ceremony it was made for, on the page that
// asked for it.
const SelfServiceTTL = 15 * time.Minute

// ErrLastPasskey refuses to revoke an identity's last passkey unless the
// identity confirmed that it knows it will be locked out.
var ErrLastPasskey = latchkey.Errorf(latchkey.CodeConflict,
	"this is your last passkey: without it you cannot sign in until you are sent a new binding link")

// SelfServiceJob makes the binding job with which a signed-in identity (a
// session vouches for it: it signed in with a passkey) adds a passkey on
// its device from the hosted pages, with the hosted web authenticator. It
// may give itself the management scopes it holds.
func (s *Service) SelfServiceJob(ctx context.Context, tenantID, realmID, identityID string) (j BindingJob, token string, err error) {
	err = s.store.Update(ctx, func(tx Tx) error {
		j, token, err = s.selfServiceJob(ctx, tx, tenantID, realmID, identityID, AuthenticatorConfig{Config: Config{Type: HostedWeb}}, true)
		return err
	})
	return j, token, err
}

// RecoveryJob makes inside tx the binding job with which an identity that
// proved itself without a passkey (an e-mail code) creates one, with the
// application's authenticator config (config.ID "" for an inline one). An
// identity holding management scopes is refused, as a token without them
// is: an administrator recovers through another administrator. It returns
// the job and its link, which the page that asked opens at once.
func (s *Service) RecoveryJob(ctx context.Context, tx Tx, tenantID, realmID, identityID string, config AuthenticatorConfig) (BindingJob, string, error) {
	j, token, err := s.selfServiceJob(ctx, tx, tenantID, realmID, identityID, config, false)
	return j, s.Link(j, token), err
}

// selfServiceJob creates inside tx a RETURN job made by the identity itself
// (the actor of its audit event; with its own management scopes when
// withScopes), bound as any link is (Info, Bind) and open SelfServiceTTL.
// It returns the job and its token, which only the page that asked holds
// and which is spent only when a passkey is bound.
func (s *Service) selfServiceJob(ctx context.Context, tx Tx, tenantID, realmID, identityID string, config AuthenticatorConfig, withScopes bool) (BindingJob, string, error) {
	actor := latchkey.Actor{Type: "identity", ID: identityID, TenantID: tenantID, RealmID: realmID}
	if withScopes {
		scopes, err := tx.ManagementScopesOf(ctx, []string{identityID}, nil)
		if err != nil {
			return BindingJob{}, "", err
		}
		actor.Scopes = scopes
	}
	req := JobRequest{DeliveryMethod: Return, AuthenticatorConfigID: config.ID}
	if config.ID == "" {
		req.AuthenticatorConfig = &InlineConfig{Config: config.Config}
	}
	return s.createJob(latchkey.WithActor(ctx, actor), tx, tenantID, realmID, identityID, req, "", SelfServiceTTL)
}

// RevokeOwnCredential revokes a passkey of identityID at its own request
// (as RevokeCredential; another identity's credential is not found). Its
// last active passkey is revoked only when confirmed, else ErrLastPasskey.
func (s *Service) RevokeOwnCredential(ctx context.Context, tenantID, realmID, identityID, id string, confirmed bool) (c Credential, err error) {
	err = s.store.Update(ctx, func(tx Tx) error {
		if c, err = getCredential(ctx, tx, tenantID, realmID, identityID, id); err != nil {
			return err
		}
		all, _, err := tx.ListCredentials(ctx, realmID, identityID, latchkey.ListOptions{Limit: maxExcluded, SkipTotal: true})
		if err != nil {
			return err
		}
		others := slices.ContainsFunc(all, func(o Credential) bool { return o.State == Active && o.ID != c.ID })
		if c.State == Active && !others && !confirmed {
			return ErrLastPasskey
		}
		return s.revoke(ctx, tx, &c)
	})
	return c, err
}

// FromAnotherDevice reports whether a sign-in with c was made on another
// device than the browser's (a phone reached over hybrid transport), so
// that a passkey on this device may be offered. attachment is what the
// browser said of the authenticator (the assertion's
// authenticatorAttachment, "" when it said nothing): a platform one is
// this device; a cross-platform one is another device when the credential
// travels over hybrid or tells no transports (a security key on USB or
// NFC is not a device to replace). Without attachment, the credential's
// hybrid transport decides.
func (c Credential) FromAnotherDevice(attachment string) bool {
	if c.WebAuthn == nil || attachment == "platform" {
		return false
	}
	t := c.WebAuthn.Transports
	if attachment == "cross-platform" && len(t) == 0 {
		return true
	}
	return slices.Contains(t, "hybrid")
}
