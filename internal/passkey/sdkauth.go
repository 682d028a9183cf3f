package passkey

import (
	"context"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/json"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/go-webauthn/webauthn/protocol"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
)

// SDKProof is what a verified sign-in proof of the embedded SDK signed: the
// sign-in it answers and that sign-in's nonce.
type SDKProof struct {
	TransactionID string
	Nonce         string
}

// sdkProofClaims are the claims the SDK signs, with a software key or as
// the challenge of a WebAuthn assertion.
type sdkProofClaims struct {
	jwt.Claims
	TransactionID string `json:"bi_tid"`
	Nonce         string `json:"bi_non"`
	// PubKeyCredID is the WebAuthn credential's id (WebAuthn proofs only).
	PubKeyCredID string `json:"pub_key_cred_id"`
}

// sdkAssertion is a WebAuthn assertion as the SDK sends it.
type sdkAssertion struct {
	AuthenticatorData string `json:"authenticator_data"`
	ClientData        string `json:"client_data"`
	Signature         string `json:"signature"`
}

// proofLeeway is the clock skew allowed between the browser and Latchkey.
const proofLeeway = time.Minute

// VerifySDKProof checks the proof that the embedded SDK posts to an
// application's bi-authenticate endpoint (audience) — {"Jwt": compact ES256
// JWS} from a software passkey, {"WebAuthn": assertion JSON} from a WebAuthn
// one made on an origin that config trusts — and returns what it signed,
// with the ACTIVE credential and active identity that signed it.
func (s *Service) VerifySDKProof(ctx context.Context, realmID string, config Config, audience string, raw []byte) (SDKProof, Credential, directory.Identity, error) {
	var p struct {
		JWT      string `json:"Jwt"`
		WebAuthn string `json:"WebAuthn"`
	}
	if err := json.Unmarshal(raw, &p); err != nil || (p.JWT == "") == (p.WebAuthn == "") {
		return SDKProof{}, Credential{}, directory.Identity{}, invalidClaims(`must be a JSON object with "Jwt" or "WebAuthn"`)
	}
	var claims sdkProofClaims
	var c Credential
	var i directory.Identity
	var err error
	if p.JWT != "" {
		c, i, err = s.verifySDKJWT(ctx, realmID, p.JWT, &claims)
	} else {
		c, i, err = s.verifySDKWebAuthn(ctx, realmID, config, p.WebAuthn, &claims)
	}
	if err != nil {
		return SDKProof{}, c, i, err
	}
	err = claims.ValidateWithLeeway(jwt.Expected{Subject: subject(i), AnyAudience: jwt.Audience{audience}, Time: s.Clock.Now()}, proofLeeway)
	switch {
	case err != nil:
		return SDKProof{}, c, i, invalidClaims("the proof's claims are not for this sign-in: " + err.Error())
	case claims.Expiry == nil:
		return SDKProof{}, c, i, invalidClaims("the proof has no expiry")
	}
	if p.JWT != "" { // a WebAuthn proof's rules and use were checked with its signature
		if err := config.Rules.Check(c); err != nil {
			return SDKProof{}, c, i, err
		}
		if err := s.recordUse(ctx, &c, false); err != nil {
			return SDKProof{}, c, i, err
		}
	}
	return SDKProof{TransactionID: claims.TransactionID, Nonce: claims.Nonce}, c, i, nil
}

func invalidClaims(description string) error { return latchkey.InvalidField("claims", description) }

// verifySDKJWT checks a software passkey's JWS, whose kid is the thumbprint
// of the bound key, and decodes its claims.
func (s *Service) verifySDKJWT(ctx context.Context, realmID, raw string, claims *sdkProofClaims) (Credential, directory.Identity, error) {
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil || len(jws.Signatures) != 1 {
		return Credential{}, directory.Identity{}, invalidClaims("Jwt is not a compact ES256 JWS")
	}
	thumbprint, err := decodeBase64(jws.Signatures[0].Header.KeyID)
	if err != nil || len(thumbprint) == 0 {
		return Credential{}, directory.Identity{}, invalidClaims("the JWS header's kid is not a key thumbprint")
	}
	c, i, err := s.store.GetSignerByThumbprint(ctx, realmID, base64.URLEncoding.EncodeToString(thumbprint))
	if err := maySignIn(c, i, err); err != nil {
		return c, i, err
	}
	var key jose.JSONWebKey
	if err := key.UnmarshalJSON([]byte(c.JWKJSON)); err != nil {
		return c, i, err
	}
	if _, ok := key.Key.(*ecdsa.PublicKey); !ok {
		return c, i, invalidClaims("the passkey is not a software passkey")
	}
	payload, err := jws.Verify(key.Key)
	if err != nil {
		return c, i, invalidClaims("the signature does not verify")
	}
	if err := json.Unmarshal(payload, claims); err != nil {
		return c, i, invalidClaims("the JWS payload is not the proof's claims")
	}
	return c, i, nil
}

// verifySDKWebAuthn checks a WebAuthn passkey's assertion, whose challenge
// is the base64url JSON of the proof's header and claims, and decodes them.
func (s *Service) verifySDKWebAuthn(ctx context.Context, realmID string, config Config, raw string, claims *sdkProofClaims) (Credential, directory.Identity, error) {
	var a sdkAssertion
	if err := json.Unmarshal([]byte(raw), &a); err != nil {
		return Credential{}, directory.Identity{}, invalidClaims("WebAuthn is not a JSON object with authenticator_data, client_data and signature")
	}
	clientData, err1 := decodeBase64(a.ClientData)
	authData, err2 := decodeBase64(a.AuthenticatorData)
	signature, err3 := decodeBase64(a.Signature)
	if err1 != nil || err2 != nil || err3 != nil || len(clientData) == 0 || len(authData) == 0 || len(signature) == 0 {
		return Credential{}, directory.Identity{}, invalidClaims("authenticator_data, client_data and signature must be base64")
	}
	var cd protocol.CollectedClientData
	if err := json.Unmarshal(clientData, &cd); err != nil {
		return Credential{}, directory.Identity{}, invalidClaims("the client data is not JSON")
	}
	challenge, err := decodeBase64(cd.Challenge)
	var signed struct {
		Claims json.RawMessage `json:"claims"`
	}
	if err != nil || json.Unmarshal(challenge, &signed) != nil || json.Unmarshal(signed.Claims, claims) != nil {
		return Credential{}, directory.Identity{}, invalidClaims("the challenge is not the proof's header and claims")
	}
	credID, err := decodeBase64(claims.PubKeyCredID)
	if err != nil || len(credID) == 0 {
		return Credential{}, directory.Identity{}, invalidClaims("pub_key_cred_id is not a credential id")
	}
	if !slices.Contains(s.AllowedOrigins(config), cd.Origin) {
		return Credential{}, directory.Identity{}, invalidClaims("origin " + cd.Origin + " is not trusted by the authenticator config")
	}
	c, i, err := s.store.GetSignerByWebAuthnID(ctx, realmID, credID)
	if err := maySignIn(c, i, err); err != nil {
		return c, i, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(credentialJSON(credID,
		map[string][]byte{"clientDataJSON": clientData, "authenticatorData": authData, "signature": signature}))
	if err != nil {
		return c, i, invalidClaims("malformed assertion: " + details(err))
	}
	return c, i, s.checkAssertion(ctx, &c, config, cd.Origin, cd.Challenge, parsed)
}
