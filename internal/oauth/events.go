package oauth

import (
	"context"
	"fmt"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/directory"
)

// signInEvent returns the event of one step of a sign-in or of its tokens
// (audit.SignInStarted, …): the application is the resource, the identity
// (once known) the actor, and correlation (the sign-in's id, which its
// code, tokens and refreshes carry as their family) ties the steps.
func (s *Service) signInEvent(ctx context.Context, action, tenantID, realmID, appID, correlation string, i *directory.Identity, credentialID string) audit.Event {
	e := audit.NewAt(ctx, s.Clock.Now(), tenantID, realmID, action, "Application", appID)
	e.CorrelationID, e.ApplicationID, e.CredentialID = correlation, appID, credentialID
	if appID == "" {
		// The realm's account page signs in for no application.
		e.ResourceType, e.ResourceDisplayName = "Account", "Account page"
	} else if a, err := s.signInApplication(ctx, tenantID, realmID, appID); err == nil {
		// The cached application, as the sign-in read it: no read of its own.
		e.ResourceDisplayName = a.DisplayName
	}
	if i != nil {
		e.IdentityID = i.ID
		e.ActorType, e.ActorID, e.ActorDisplayName = "identity", i.ID, i.DisplayName
	} else if latchkey.ActorFrom(ctx).Type == "" {
		// Before anyone signed in, the application asked.
		e.ActorType, e.ActorID, e.ActorDisplayName = "application", appID, e.ResourceDisplayName
	}
	switch action {
	case audit.SignInAllowed, audit.TokenIssued, audit.TokenRefreshed:
		e.Outcome = audit.Allowed
	case audit.SignInDenied:
		e.Outcome = audit.Denied
	}
	return e
}

// SignInRefused records that a passkey could not sign req in (a failed
// assertion or proof, a revoked passkey, a suspended identity): why is the
// reason the browser or the SDK is told. req may name only its tenant,
// realm and application when the proof named no sign-in; i and
// credentialID are zero when the passkey is unknown.
func (s *Service) SignInRefused(ctx context.Context, req AuthRequest, i directory.Identity, credentialID, why string) error {
	var who *directory.Identity
	if i.ID != "" {
		who = &i
	}
	e := s.signInEvent(ctx, audit.SignInDenied, req.TenantID, req.RealmID, req.ApplicationID, req.ID, who, credentialID)
	e.Reason = why
	return s.store.RecordEvent(ctx, e)
}

// Upstream is the identity provider (an SSO config) that vouched for a
// sign-in's identity, or none.
type Upstream struct{ ID, Name string }

// Reason is the reason of an event of a sign-in through the provider: why
// it was refused ("" when it was not), then the provider's name and id.
// Sign-ins through none keep why.
func (u Upstream) Reason(why string) string {
	if u.ID == "" {
		return why
	}
	through := fmt.Sprintf("through the identity provider %q (%s)", u.Name, u.ID)
	if why == "" {
		return through
	}
	return why + "; " + through
}

// denied records a sign-in that policy refused (through the provider via,
// or none), and returns the refusal.
func (s *Service) denied(ctx context.Context, req AuthRequest, i directory.Identity, credentialID string, d *Denied, via Upstream) error {
	e := s.signInEvent(ctx, audit.SignInDenied, req.TenantID, req.RealmID, req.ApplicationID, req.ID, &i, credentialID)
	e.Reason = via.Reason(d.Reason)
	if err := s.store.RecordEvent(ctx, e); err != nil {
		return err
	}
	return d
}

// ActorName is the display name of a token's principal now, for the events
// its requests record: an application's from this node's cache, an
// identity's read; "" when it cannot be found.
func (s *Service) ActorName(ctx context.Context, p Principal) string {
	if p.Type == "application" {
		a, _ := s.signInApplication(ctx, p.TenantID, p.home, p.ID)
		return a.DisplayName
	}
	i, _ := s.store.GetIdentity(ctx, p.home, p.ID)
	return i.DisplayName
}
