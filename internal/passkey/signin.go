package passkey

import (
	"context"
	"errors"
	"net/url"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
)

// Refusals of a sign-in, worded for the person at the page.
var (
	ErrUnknownPasskey = latchkey.Errorf(latchkey.CodeForbidden, "no passkey on this device is registered here — ask for a new binding link")
	ErrRevokedPasskey = latchkey.Errorf(latchkey.CodeForbidden, "this passkey was revoked — ask for a new binding link")
	ErrClonedPasskey  = latchkey.Errorf(latchkey.CodeForbidden, "this passkey's signature counter went backwards, so it may have been copied; it cannot sign in")
	ErrSuspended      = latchkey.Errorf(latchkey.CodeForbidden, "the identity is suspended and cannot sign in")
)

// requestOptions are PublicKeyCredentialRequestOptions in their JSON form,
// ready for PublicKeyCredential.parseRequestOptionsFromJSON.
type requestOptions struct {
	Challenge        string              `json:"challenge"`
	Timeout          int                 `json:"timeout"`
	RPID             string              `json:"rpId"`
	AllowCredentials []map[string]string `json:"allowCredentials"`
	UserVerification string              `json:"userVerification"`
}

// rpID is the relying party of Latchkey's own pages: its public host.
func (s *Service) rpID() string {
	u, _ := url.Parse(s.BaseURL)
	return u.Hostname()
}

// AssertionOptions are the WebAuthn options of a sign-in on Latchkey's
// page with challenge, for an application whose authenticator config is c
// (zero when it has none). They list no credentials, whoever the sign-in
// is for: every passkey bound here is discoverable, and a list made from a
// login hint would tell a stranger whether that username exists.
func (s *Service) AssertionOptions(challenge string, c Config) requestOptions {
	return requestOptions{Challenge: challenge, Timeout: 300000, RPID: s.rpID(),
		AllowCredentials: []map[string]string{}, UserVerification: string(c.userVerification())}
}

// signer is an identity as go-webauthn sees it while one of its
// credentials signs in.
type signer struct {
	handle []byte
	cred   webauthn.Credential
}

func (u signer) WebAuthnID() []byte                         { return u.handle }
func (u signer) WebAuthnName() string                       { return "" }
func (u signer) WebAuthnDisplayName() string                { return "" }
func (u signer) WebAuthnCredentials() []webauthn.Credential { return []webauthn.Credential{u.cred} }

// VerifyAssertion checks a WebAuthn assertion (the PublicKeyCredential's
// JSON) made on Latchkey's page for challenge, for an application whose
// authenticator config is config (zero when it has none), and returns the
// ACTIVE credential and the active identity that signed. The credential's
// sign count and backup state are brought up to date.
func (s *Service) VerifyAssertion(ctx context.Context, realmID string, config Config, challenge string, raw []byte) (Credential, directory.Identity, error) {
	parsed, err := protocol.ParseCredentialRequestResponseBytes(raw)
	if err != nil {
		return Credential{}, directory.Identity{}, invalidProof("malformed assertion: " + details(err))
	}
	c, i, err := s.store.GetSignerByWebAuthnID(ctx, realmID, parsed.RawID)
	if err := maySignIn(c, i, err); err != nil {
		return c, i, err
	}
	return c, i, s.checkAssertion(ctx, &c, config, originOf(s.BaseURL), challenge, parsed)
}

// maySignIn says whether the credential c of identity i, which a lookup
// (whose error is lookupErr) found for a sign-in, may sign in: the
// credential ACTIVE, the identity not suspended.
func maySignIn(c Credential, i directory.Identity, lookupErr error) error {
	switch {
	case errors.Is(lookupErr, latchkey.ErrNotFound):
		return ErrUnknownPasskey
	case lookupErr != nil:
		return lookupErr
	case c.State != Active:
		return ErrRevokedPasskey
	case !i.Active():
		return ErrSuspended
	}
	return nil
}

// checkAssertion verifies parsed, an assertion by the WebAuthn credential c
// made on origin over challenge by a verified user (unless config relaxes
// it), checks the config's authenticator rules (once the passkey proved
// itself: a refusal tells nothing of a credential id to whoever guesses
// one), and records the use with c's new sign count and backup state
// (recordUse: synced passkeys always count 0, so most of their sign-ins
// write nothing). A counter that went backwards refuses the credential.
func (s *Service) checkAssertion(ctx context.Context, c *Credential, config Config, origin, challenge string, parsed *protocol.ParsedCredentialAssertionData) error {
	k := c.WebAuthn
	if k == nil {
		return ErrUnknownPasskey
	}
	u, _ := url.Parse(origin)
	rp, err := webauthn.New(&webauthn.Config{RPID: u.Hostname(), RPDisplayName: "Latchkey", RPOrigins: []string{origin}})
	if err != nil {
		return invalidProof("origin " + origin + " cannot be a relying party")
	}
	stored := webauthn.Credential{ID: k.CredentialID, PublicKey: k.PublicKey,
		Flags:         webauthn.CredentialFlags{BackupEligible: k.BackupEligible, BackupState: k.BackupState, UserVerified: k.UserVerified},
		Authenticator: webauthn.Authenticator{AAGUID: k.AAGUID, SignCount: k.SignCount}}
	// The credential was found by its id, so it names the identity; the
	// user handle, when the authenticator sends one, only has to be its own.
	handle := parsed.Response.UserHandle
	got, err := rp.ValidateLogin(signer{handle: handle, cred: stored},
		webauthn.SessionData{Challenge: challenge, UserID: handle, UserVerification: config.userVerification()}, parsed)
	if err != nil {
		return invalidProof("the assertion does not verify: " + details(err))
	}
	if got.Authenticator.CloneWarning {
		return ErrClonedPasskey
	}
	if err := config.Rules.Check(*c); err != nil {
		return err
	}
	changed := k.SignCount != got.Authenticator.SignCount || k.BackupState != got.Flags.BackupState
	k.SignCount, k.BackupState = got.Authenticator.SignCount, got.Flags.BackupState
	return s.recordUse(ctx, c, changed)
}

// lastUseInterval is how old a passkey's recorded last use may grow before
// a sign-in records it again: a sign-in that changes nothing else writes
// nothing within it, so that busy passkeys cost no write per sign-in.
const lastUseInterval = time.Minute

// noteUse sets c's last use to now from userAgent and reports whether that
// must be stored: when the sign-in changed its key record (keyChanged: the
// sign count or backup state), came from another user agent, or the last
// use recorded is lastUseInterval old.
func (c *Credential) noteUse(now time.Time, userAgent string, keyChanged bool) bool {
	write := keyChanged || userAgent != c.LastUsedUserAgent || now.Sub(c.LastUsedTime) >= lastUseInterval
	if write {
		c.LastUsedTime, c.LastUsedUserAgent = now, userAgent
	}
	return write
}

// recordUse records a sign-in of the credential c from the user agent of
// ctx, with its changed key record if keyChanged, in one write, or none
// (noteUse). A credential revoked since it was read is refused.
func (s *Service) recordUse(ctx context.Context, c *Credential, keyChanged bool) error {
	now := s.Clock.Now()
	if keyChanged {
		c.UpdateTime = now
	}
	if !c.noteUse(now, latchkey.UserAgentFrom(ctx), keyChanged) {
		return nil
	}
	err := s.store.RecordCredentialUse(ctx, *c)
	if errors.Is(err, latchkey.ErrNotFound) {
		return ErrRevokedPasskey
	}
	return err
}
