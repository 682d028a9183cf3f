package oauth

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/passkey"
	sessions "github.com/latchkey/latchkey/internal/session"
)

// PasskeyACR is the acr of every passkey sign-in: "phr", phishing-resistant
// authentication (OpenID EAP ACR Values 1.0), which a passkey is (it signs
// for Latchkey's origin only). It is the only value of acr_values_supported;
// acr_values asking for others still get it (acr is a voluntary claim).
const PasskeyACR = "phr"

// EmailCodeACR is the acr of a sign-in by a one-time code sent by e-mail:
// it proves the address only, and a code can be phished, so it is not
// PasskeyACR.
const EmailCodeACR = "urn:latchkey:acr:email-otp"

// EmailCodeAMR is the amr of a sign-in by an e-mail code (RFC 8176 "otp").
var EmailCodeAMR = []string{"otp"}

// PasskeyAMR is the amr (RFC 8176) of a passkey's sign-in on the hosted
// page with the authenticator config c: proof of possession of a key
// ("pop"), and "mfa" when c requires the authenticator to verify its user
// (a PIN or biometric besides the key; the default).
func PasskeyAMR(c passkey.Config) []string {
	if c.UserVerification == passkey.UVPreferred {
		return []string{"pop"}
	}
	return []string{"pop", "mfa"}
}

// sdkAMR is the amr of the embedded SDK's sign-ins, whose software
// passkeys verify no user.
var sdkAMR = []string{"pop"}

// ErrSessionEnded is a session that ended between its lookup and its use
// (a 409 where it reaches a handler).
var ErrSessionEnded = latchkey.Errorf(latchkey.CodeConflict, "the sign-in session ended; start again from the application")

var promptValues = []string{"none", "login", "consent", "select_account"}

// checkSessionParams refuses prompt and max_age values that OIDC Core
// §3.1.2.1 does not allow: unknown prompts, none with another value, a
// max_age that is not a non-negative integer.
func checkSessionParams(p AuthParams) error {
	prompts := strings.Fields(p.Prompt)
	for _, v := range prompts {
		if !slices.Contains(promptValues, v) {
			return redirectError(p, "invalid_request", "prompt "+v+" is not supported")
		}
	}
	if slices.Contains(prompts, "none") && len(prompts) > 1 {
		return redirectError(p, "invalid_request", "prompt=none cannot be combined with other values")
	}
	if p.MaxAge != "" {
		if n, err := strconv.Atoi(p.MaxAge); err != nil || n < 0 {
			return redirectError(p, "invalid_request", "max_age must be a non-negative integer")
		}
	}
	return nil
}

func hasPrompt(p AuthParams, value string) bool {
	return slices.Contains(strings.Fields(p.Prompt), value)
}

// signInWithSession signs a request in with the browser's session when it
// may (sessionRefusal) and policy lets the identity use the application:
// the request is stored, finished, in the code's transaction, and where to
// send the browser is returned. "" means a passkey must sign in (the caller
// stores the request, pending); prompt=none never gets "": the refusal is
// redirected.
func (s *Service) signInWithSession(ctx context.Context, req AuthRequest, app Application, current SignedIn) (string, error) {
	p := req.Params
	refusal := s.sessionRefusal(ctx, app, p, current)
	var err error
	if refusal == nil {
		var to string
		_, to, err = s.approve(ctx, req, current.Identity, current.Session.CredentialID, &current.Session, true, Upstream{}, false)
		var denied *Denied
		switch {
		case errors.As(err, &denied):
			return "", redirectError(p, "access_denied", DeniedDescription)
		case errors.Is(err, ErrSessionEnded):
			refusal, err = &Error{"login_required", "the sign-in session ended; a passkey must sign in"}, nil
		default:
			return to, err
		}
	}
	if err != nil || !hasPrompt(p, "none") {
		return "", err
	}
	return "", redirectError(p, refusal.Code, refusal.Description)
}

// sessionRefusal decides whether the browser's live session may sign p in
// without a ceremony (OIDC Core §3.1.2.1): nil when it may, else why not,
// as the error that prompt=none answers.
func (s *Service) sessionRefusal(ctx context.Context, app Application, p AuthParams, current SignedIn) *Error {
	now := s.Clock.Now()
	if hasPrompt(p, "login") {
		return &Error{"login_required", "prompt=login asks for a new sign-in"}
	}
	if p.MaxAge != "" {
		maxAge, _ := strconv.Atoi(p.MaxAge) // checked by checkSessionParams
		if maxAge == 0 || now.Sub(current.Session.AuthTime) > time.Duration(maxAge)*time.Second {
			return &Error{"login_required", "the sign-in is older than max_age"}
		}
	}
	i := current.Identity
	if !i.Active() {
		return &Error{"login_required", "the signed-in identity cannot sign in"}
	}
	sub := subject(app.ProtocolConfig.TokenConfiguration.SubjectField, i)
	if p.IDTokenHint != "" {
		if hinted, ok := s.idTokenHint(ctx, app, p.IDTokenHint); !ok || hinted.Subject != sub {
			return &Error{"login_required", "id_token_hint does not name the signed-in user"}
		}
	}
	if p.LoginHint != "" && !hintNames(p.LoginHint, i, sub) {
		return &Error{"interaction_required", "login_hint names another user than the one signed in"}
	}
	return nil
}

// SignedIn is a browser's live session with its identity, as read when
// the browser came.
type SignedIn struct {
	Session  sessions.Session
	Identity directory.Identity
}

// SignedIn returns the live session id with its identity, read together,
// or nil when it ended, expired, or its identity is gone.
func (s *Service) SignedIn(ctx context.Context, id string) (*SignedIn, error) {
	v, i, err := s.store.GetSessionWithIdentity(ctx, id)
	if errors.Is(err, latchkey.ErrNotFound) || (err == nil && !v.Live(s.Clock.Now())) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &SignedIn{v, i}, nil
}

// idTokenHint is the claims of an ID token this application's issuer
// signed with one of our keys; expired tokens are accepted, as OIDC Core
// §3.1.2.1 and RP-Initiated Logout §2 ask of id_token_hint.
func (s *Service) idTokenHint(ctx context.Context, app Application, raw string) (IDClaims, bool) {
	tok, err := jwt.ParseSigned(raw, tokenAlgorithms)
	if err != nil || len(tok.Headers) != 1 {
		return IDClaims{}, false
	}
	key, ok := s.keys.publicKey(ctx, tok.Headers[0].KeyID, s.Clock.Now())
	if !ok {
		return IDClaims{}, false
	}
	var c IDClaims
	if err := tok.Claims(key.Key, &c); err != nil || c.Issuer != s.Issuer(app.TenantID, app.RealmID, app.ID) || c.Subject == "" {
		return IDClaims{}, false
	}
	return c, true
}

// hintNames reports whether a login_hint names identity i (whose sub for
// the application is sub): its sub, id, username or e-mail address, the
// last two compared as the directory compares them.
func hintNames(hint string, i directory.Identity, sub string) bool {
	f := directory.Fold(hint)
	return hint == sub || hint == i.ID || (i.Traits.Username != "" && f == directory.Fold(i.Traits.Username)) ||
		(i.Traits.PrimaryEmailAddress != "" && f == directory.Fold(i.Traits.PrimaryEmailAddress))
}
