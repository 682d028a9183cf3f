package passkey

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/url"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/directory"
)

// Invocation is what a valid binding link gives access to.
type Invocation struct {
	Job      BindingJob
	Config   AuthenticatorConfig // the job's config, by id or inline (then ID is "")
	Tenant   directory.Tenant
	Realm    directory.Realm
	Identity directory.Identity
}

// Subject names the identity in binding proofs, as the embedded SDK does.
func (inv Invocation) Subject() string { return subject(inv.Identity) }

// subject names an identity in the embedded SDK's proofs.
func subject(i directory.Identity) string {
	return "CN=" + i.ID + ", OU=" + i.RealmID + ", O=" + i.TenantID
}

var (
	errBadToken = latchkey.Errorf(latchkey.CodeUnauthorized, "the binding link's token is not valid")
	errUsed     = latchkey.Errorf(latchkey.CodeGone, "this binding link was already used to bind a passkey")
	errRevoked  = latchkey.Errorf(latchkey.CodeGone, "this binding link was revoked; ask for a new one")
	errExpired  = latchkey.Errorf(latchkey.CodeGone, "this binding link has expired; ask for a new one")
	errNotSent  = latchkey.Errorf(latchkey.CodeGone, "this binding link could not be delivered; ask for a new one")
	errInactive = latchkey.Errorf(latchkey.CodeForbidden, "the identity is suspended and cannot bind a passkey")
)

// closed is the error for a link that can no longer bind.
func closed(j BindingJob) error {
	switch j.State {
	case Complete:
		return errUsed
	case Revoked:
		return errRevoked
	case FailedToSend:
		return errNotSent
	}
	return errExpired
}

// linkedJob finds the job that a binding link's path names. The path names
// the job's own identity: AnyIdentity, which lists the jobs of all, is no
// identity of a link.
func linkedJob(ctx context.Context, tx Tx, tenantID, realmID, identityID, jobID string) (BindingJob, error) {
	j, err := tx.GetBindingJob(ctx, realmID, identityID, jobID)
	if err == nil && (j.TenantID != tenantID || j.IdentityID != identityID) {
		err = latchkey.ErrNotFound
	}
	return j, latchkey.IfNotFound(err, jobNotFound, jobID)
}

// invocation checks a link's token and returns what it gives access to. A
// wrong token is refused before anything about the job is told.
func (s *Service) invocation(ctx context.Context, tx Tx, tenantID, realmID, identityID, jobID, token string) (Invocation, error) {
	var inv Invocation
	j, err := linkedJob(ctx, tx, tenantID, realmID, identityID, jobID)
	if err != nil {
		return inv, err
	}
	if !tokenMatches(j, token) {
		return inv, errBadToken
	}
	if !j.Open(s.Clock.Now()) {
		return inv, closed(j.settled(s.Clock.Now()))
	}
	inv.Job = j
	if latchkey.RedirectURIProblem(j.PostBindingRedirectURI) != "" {
		inv.Job.PostBindingRedirectURI = "" // stored before targets were checked: no authenticator is sent there
	}
	if inv.Tenant, err = tx.GetTenant(ctx, tenantID); err != nil {
		return inv, err
	}
	if inv.Realm, err = tx.GetRealm(ctx, tenantID, realmID); err != nil {
		return inv, err
	}
	if inv.Identity, err = tx.GetIdentity(ctx, realmID, j.IdentityID); err != nil {
		return inv, err
	}
	if !inv.Identity.Active() {
		return inv, errInactive
	}

	if j.AuthenticatorConfig != nil {
		inv.Config = AuthenticatorConfig{TenantID: tenantID, RealmID: realmID, Config: j.AuthenticatorConfig.Config}
	} else if inv.Config, err = getConfig(ctx, tx, tenantID, realmID, j.AuthenticatorConfigID); err != nil {
		return inv, err
	}
	return inv, nil
}

// Advance checks a link's token and moves its job forward to state
// (LINK_OPENED when the link is opened, REQUEST_DELIVERED when an
// authenticator fetched the job); a job already further along stays.
func (s *Service) Advance(ctx context.Context, tenantID, realmID, identityID, jobID, token, state string) (inv Invocation, err error) {
	err = s.store.Update(ctx, func(tx Tx) error {
		if inv, err = s.invocation(ctx, tx, tenantID, realmID, identityID, jobID, token); err != nil {
			return err
		}
		before := OpenStates[:slices.Index(OpenStates, state)]
		if !slices.Contains(before, inv.Job.State) {
			return nil
		}
		t := s.Clock.Now()
		if err := tx.SetBindingJobState(ctx, jobID, before, state, t); err != nil && !errors.Is(err, latchkey.ErrNotFound) {
			return err
		}
		inv.Job.State, inv.Job.UpdateTime = state, t
		return nil
	})
	return inv, err
}

// AllowedOrigins are the web origins from which an authenticator may bind
// with the job: the config's trusted origins and invoke URL, and Latchkey's
// own (the hosted pages).
func (s *Service) AllowedOrigins(c Config) []string {
	origins := slices.Clone(c.TrustedOrigins)
	for _, u := range []string{c.InvokeURL, s.BaseURL} {
		if o := originOf(u); o != "" {
			origins = append(origins, o)
		}
	}
	return origins
}

func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// TrustedOrigins returns the origins allowed to call the binding endpoints
// of a job, for CORS; nothing when the job does not exist.
func (s *Service) TrustedOrigins(ctx context.Context, tenantID, realmID, identityID, jobID string) []string {
	j, err := linkedJob(ctx, s.store, tenantID, realmID, identityID, jobID)
	if err != nil {
		return nil
	}
	if j.AuthenticatorConfig != nil {
		return s.AllowedOrigins(j.AuthenticatorConfig.Config)
	}
	c, err := s.store.GetAuthenticatorConfig(ctx, realmID, j.AuthenticatorConfigID)
	if err != nil {
		return nil
	}
	return s.AllowedOrigins(c.Config)
}

// Proof is what an authenticator sends to bind a passkey: a self-signed
// JWS (type JWT) or a WebAuthn attestation (type WEBAUTHN).
type Proof struct {
	Type string
	Raw  string
}

// bindClaims are what both kinds of proof sign: the identity and the token.
type bindClaims struct {
	Sub   string `json:"sub"`
	Token string `json:"token"`
}

func (c bindClaims) check(inv Invocation, token string) error {
	if c.Sub != inv.Subject() {
		return invalidProof("the proof is for another identity")
	}
	if subtle.ConstantTimeCompare([]byte(c.Token), []byte(token)) != 1 {
		return invalidProof("the proof is for another binding link")
	}
	return nil
}

func invalidProof(description string) error { return latchkey.InvalidField("raw", description) }

// Bind verifies a proof made with a job's link and stores the passkey, if
// the authenticator rules of the job's config allow it. The job completes and its token is spent only now; a failed attempt leaves the
// job as it was. Of concurrent binds of one job exactly one succeeds.
func (s *Service) Bind(ctx context.Context, tenantID, realmID, identityID, jobID, token string, p Proof) (Credential, error) {
	inv, err := s.invocation(ctx, s.store, tenantID, realmID, identityID, jobID, token)
	if err != nil {
		return Credential{}, err
	}
	if inv.Unverified() {
		return Credential{}, errUnverified
	}
	var c Credential
	switch p.Type {
	case CSRJWT:
		c, err = s.verifyJWT(inv, token, p.Raw)
	case CSRWebAuthn:
		c, err = s.verifyWebAuthn(inv, token, p.Raw)
	case "":
		err = latchkey.InvalidField("type", "empty string")
	default:
		err = latchkey.InvalidField("type", `must be "JWT" or "WEBAUTHN"`)
	}
	if err != nil {
		return Credential{}, err
	}
	if err := inv.Config.Config.Rules.Check(c); err != nil {
		return Credential{}, err
	}
	t := s.Clock.Now()
	c.ID, c.IdentityID, c.RealmID, c.TenantID = latchkey.NewID(), inv.Identity.ID, realmID, tenantID
	c.State, c.CreateTime, c.UpdateTime = Active, t, t
	err = s.store.Update(ctx, func(tx Tx) error {
		if err := tx.CompleteBindingJob(ctx, jobID, OpenStates, c.ID, t); err != nil {
			if errors.Is(err, latchkey.ErrNotFound) {
				return errUsed
			}
			return err
		}
		if err := tx.CreateCredential(ctx, c); err != nil {
			if errors.Is(err, latchkey.ErrDuplicate) {
				return latchkey.Errorf(latchkey.CodeConflict, "this passkey is already bound")
			}
			return err
		}
		if err := tx.RefreshEnrollment(ctx, c.IdentityID, t); err != nil {
			return err
		}
		if err := s.recordPasskey(ctx, tx, audit.PasskeyBound, c); err != nil {
			return err
		}
		return s.record(ctx, tx, tenantID, realmID, "credential_binding_job.complete", "CredentialBindingJob", jobID)
	})
	return c, err
}

// setKey records the public key of a credential as a JWK and its RFC 7638
// thumbprint (base64url with padding, as the reference shows it).
func setKey(c *Credential, key crypto.PublicKey) error {
	jwk := jose.JSONWebKey{Key: key}
	b, err := jwk.MarshalJSON()
	if err != nil {
		return invalidProof("unsupported public key")
	}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return invalidProof("unsupported public key")
	}
	c.JWKJSON, c.JWKThumbprint = string(b), base64.URLEncoding.EncodeToString(tp)
	return nil
}

// verifyJWT checks a software passkey's proof: a compact ES256 JWS signed
// by the P-256 key in its own "jwk" header, over the subject and token.
func (s *Service) verifyJWT(inv Invocation, token, raw string) (Credential, error) {
	c := Credential{CSRType: CSRJWT}
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil || len(jws.Signatures) != 1 {
		return c, invalidProof("not a compact ES256 JWS")
	}
	jwk := jws.Signatures[0].Header.JSONWebKey
	if jwk == nil || !jwk.IsPublic() {
		return c, invalidProof(`the JWS header has no public "jwk"`)
	}
	key, ok := jwk.Key.(*ecdsa.PublicKey)
	if !ok || key.Curve != elliptic.P256() {
		return c, invalidProof("the key is not a P-256 EC key")
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return c, invalidProof("the signature does not verify")
	}
	var claims bindClaims
	if err := json.Unmarshal(payload, &claims); err != nil {
		return c, invalidProof("the JWS payload is not a JSON object")
	}
	if err := claims.check(inv, token); err != nil {
		return c, err
	}
	return c, setKey(&c, key)
}

// attestation is the WebAuthn proof as the embedded SDK sends it.
type attestation struct {
	ClientDataJSON    string `json:"client_data_json_base64"`
	AttestationObject string `json:"attestation_object"`
	// Transports are what the browser said the authenticator can be
	// reached by (response.getTransports()): a Latchkey extension that the
	// hosted pages send and the SDK does not. Unknown ones are dropped.
	Transports []string `json:"transports,omitempty"`
}

// credentialJSON is a PublicKeyCredential in its JSON form, for go-webauthn's
// parsers, made of the parts the embedded SDK sends.
func credentialJSON(id []byte, response map[string][]byte) []byte {
	encoded := map[string]string{}
	for k, v := range response {
		encoded[k] = base64.RawURLEncoding.EncodeToString(v)
	}
	b, _ := json.Marshal(map[string]any{"id": base64.RawURLEncoding.EncodeToString(id), "rawId": base64.RawURLEncoding.EncodeToString(id),
		"type": "public-key", "response": encoded})
	return b
}

// decodeBase64 accepts standard and URL-safe base64, padded or not.
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	s = strings.NewReplacer("+", "-", "/", "_").Replace(s)
	return base64.RawURLEncoding.DecodeString(s)
}

// webauthnUser is the identity as go-webauthn sees it during a binding.
type webauthnUser struct{ directory.Identity }

func (u webauthnUser) WebAuthnID() []byte                         { return []byte(u.ID) }
func (u webauthnUser) WebAuthnName() string                       { return u.Traits.Username }
func (u webauthnUser) WebAuthnDisplayName() string                { return u.DisplayName }
func (u webauthnUser) WebAuthnCredentials() []webauthn.Credential { return nil }

// verifyWebAuthn checks a WebAuthn registration whose challenge is the
// base64url JSON of the subject and token, made on an allowed origin; the
// relying party id is that origin's host.
func (s *Service) verifyWebAuthn(inv Invocation, token, raw string) (Credential, error) {
	c := Credential{CSRType: CSRWebAuthn}
	var att attestation
	if err := json.Unmarshal([]byte(raw), &att); err != nil {
		return c, invalidProof("not a JSON object with client_data_json_base64 and attestation_object")
	}
	clientData, err1 := decodeBase64(att.ClientDataJSON)
	attObject, err2 := decodeBase64(att.AttestationObject)
	if err1 != nil || err2 != nil || len(clientData) == 0 || len(attObject) == 0 {
		return c, invalidProof("client_data_json_base64 and attestation_object must be base64")
	}
	var cd protocol.CollectedClientData
	if err := json.Unmarshal(clientData, &cd); err != nil {
		return c, invalidProof("the client data is not JSON")
	}
	challenge, err := decodeBase64(cd.Challenge)
	if err != nil {
		return c, invalidProof("the challenge is not base64url")
	}
	var claims bindClaims
	if err := json.Unmarshal(challenge, &claims); err != nil {
		return c, invalidProof("the challenge is not the binding's claims")
	}
	if err := claims.check(inv, token); err != nil {
		return c, err
	}
	if !slices.Contains(s.AllowedOrigins(inv.Config.Config), cd.Origin) {
		return c, invalidProof("origin " + cd.Origin + " is not trusted by the authenticator config")
	}
	parsed, err := (&protocol.AuthenticatorAttestationResponse{
		AuthenticatorResponse: protocol.AuthenticatorResponse{ClientDataJSON: clientData},
		AttestationObject:     attObject,
	}).Parse()
	if err != nil {
		return c, invalidProof("malformed attestation: " + details(err))
	}
	credID := parsed.AttestationObject.AuthData.AttData.CredentialID
	response := credentialJSON(credID, map[string][]byte{"clientDataJSON": clientData, "attestationObject": attObject})
	creation, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return c, invalidProof("malformed attestation: " + details(err))
	}
	origin, _ := url.Parse(cd.Origin)
	rp, err := webauthn.New(&webauthn.Config{RPID: origin.Hostname(), RPDisplayName: "Latchkey", RPOrigins: []string{cd.Origin}})
	if err != nil {
		return c, invalidProof("origin " + cd.Origin + " cannot be a relying party")
	}
	user := webauthnUser{inv.Identity}
	cred, err := rp.CreateCredential(user, webauthn.SessionData{
		Challenge: cd.Challenge, UserID: user.WebAuthnID(), UserVerification: inv.Config.Config.userVerification(),
		CredParams: credentialParameters(),
	}, creation)
	if err != nil {
		return c, invalidProof("the attestation does not verify: " + details(err))
	}
	key, err := publicKey(cred.PublicKey)
	if err != nil {
		return c, invalidProof("unsupported public key")
	}
	var reachedBy []string
	for _, t := range att.Transports {
		if slices.Contains(transports, protocol.AuthenticatorTransport(t)) && !slices.Contains(reachedBy, t) {
			reachedBy = append(reachedBy, t)
		}
	}
	c.WebAuthn = &WebAuthnKey{
		CredentialID: cred.ID, PublicKey: cred.PublicKey, SignCount: cred.Authenticator.SignCount,
		AAGUID: cred.Authenticator.AAGUID, BackupEligible: cred.Flags.BackupEligible, BackupState: cred.Flags.BackupState,
		UserVerified: cred.Flags.UserVerified, Transports: reachedBy, AttestationType: cred.AttestationType,
	}
	return c, setKey(&c, key)
}

// publicKey converts a COSE public key to a Go one.
func publicKey(cose []byte) (crypto.PublicKey, error) {
	k, err := webauthncose.ParsePublicKey(cose)
	if err != nil {
		return nil, err
	}
	switch k := k.(type) {
	case webauthncose.EC2PublicKeyData:
		return k.ToECDSA()
	case webauthncose.RSAPublicKeyData:
		e, err := webauthncose.ParseRSAPublicKeyDataExponent(&k)
		if err != nil {
			return nil, err
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(k.Modulus), E: e}, nil
	case webauthncose.OKPPublicKeyData:
		return ed25519.PublicKey(k.XCoord), nil
	}
	return nil, errors.New("unsupported key type")
}

// details is the reason go-webauthn gives for refusing a ceremony.
func details(err error) string {
	var e *protocol.Error
	if errors.As(err, &e) && e.Details != "" {
		if e.DevInfo != "" {
			return e.Details + " (" + e.DevInfo + ")"
		}
		return e.Details
	}
	return err.Error()
}

// algorithms are the COSE algorithms of the passkeys Latchkey accepts:
// those go-webauthn verifies and authenticators make, best first.
var algorithms = []webauthncose.COSEAlgorithmIdentifier{webauthncose.AlgES256, webauthncose.AlgEdDSA, webauthncose.AlgRS256}

func credentialParameters() []protocol.CredentialParameter {
	out := make([]protocol.CredentialParameter, len(algorithms))
	for i, a := range algorithms {
		out[i] = protocol.CredentialParameter{Type: protocol.PublicKeyCredentialType, Algorithm: a}
	}
	return out
}
