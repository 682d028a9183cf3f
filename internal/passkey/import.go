package passkey

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/directory"
)

// MaxImport is the most credentials one import takes.
const MaxImport = 100

// PortableCredential is the public part of a passkey as an import takes it
// and an export gives it: a WebAuthn credential (its id, COSE or JWK key,
// counter, AAGUID, flags and transports), or a software passkey of the
// embedded SDK (csr_type JWT: a P-256 JWK, found by its thumbprint). The
// key may be given as COSE (public_key), as a JWK object (jwk) or as
// Beyond Identity's jwk_json string; given more than once, the forms must
// be one key. Beyond Identity's other read-only credential fields are
// accepted so that its credential lists import as they are: state must
// then be ACTIVE and jwk_thumbprint the key's; the rest is ignored.
type PortableCredential struct {
	CSRType        string          `json:"csr_type,omitempty"`
	CredentialID   string          `json:"credential_id,omitempty"` // base64url
	PublicKey      string          `json:"public_key,omitempty"`    // base64url COSE_Key
	JWK            json.RawMessage `json:"jwk,omitempty"`
	JWKJSON        string          `json:"jwk_json,omitempty"`
	JWKThumbprint  string          `json:"jwk_thumbprint,omitempty"`
	SignCount      int64           `json:"sign_count"`
	AAGUID         string          `json:"aaguid,omitempty"`
	BackupEligible bool            `json:"backup_eligible"`
	BackupState    bool            `json:"backup_state"`
	Transports     []string        `json:"transports,omitempty"`
	UserHandle     string          `json:"user_handle,omitempty"` // base64url
	DisplayName    string          `json:"display_name,omitempty"`
	State          string          `json:"state,omitempty"`
	CreateTime     *time.Time      `json:"create_time,omitempty"`

	// Ignored on import: Latchkey gives the credential its own id, and the
	// request names the identity.
	ID         string          `json:"id,omitempty"`
	IdentityID string          `json:"identity_id,omitempty"`
	RealmID    string          `json:"realm_id,omitempty"`
	TenantID   string          `json:"tenant_id,omitempty"`
	UpdateTime json.RawMessage `json:"update_time,omitempty"`
}

// importAlgorithms are the COSE algorithms of imported keys: ECDSA on P-256
// and P-384, Ed25519, and RSA with SHA-2 (no SHA-1), all of which
// go-webauthn verifies.
var importAlgorithms = []webauthncose.COSEAlgorithmIdentifier{
	webauthncose.AlgES256, webauthncose.AlgES384, webauthncose.AlgEdDSA, webauthncose.AlgEd25519,
	webauthncose.AlgRS256, webauthncose.AlgRS384, webauthncose.AlgRS512,
	webauthncose.AlgPS256, webauthncose.AlgPS384, webauthncose.AlgPS512,
}

// minRSABits and maxRSABits bound the RSA modulus of an imported key; the
// upper bound keeps a sign-in's verification cheap.
const minRSABits, maxRSABits = 2048, 8192

var transports = []protocol.AuthenticatorTransport{protocol.USB, protocol.NFC, protocol.BLE, protocol.SmartCard, protocol.Hybrid, protocol.Internal}

// decodeImport turns a portable credential into the credential it imports,
// adding what is wrong with it to v with field names under field (e.g.
// "credentials[2]."). The credential's ids, identity and times are the
// caller's.
func decodeImport(p PortableCredential, field string, now time.Time, v *latchkey.Violations) Credential {
	bad := func(name, description string) { v.Add(field+name, description) }
	c := Credential{CSRType: strings.ToUpper(p.CSRType), State: Active, CreateTime: now}
	switch c.CSRType {
	case "", "FIDO2":
		c.CSRType = CSRWebAuthn
	case CSRWebAuthn, CSRJWT:
	default:
		bad("csr_type", `must be "WEBAUTHN" (or "FIDO2") or "JWT"`)
		return c
	}
	if p.State != "" && p.State != Active {
		bad("state", "only ACTIVE credentials can be imported")
	}
	if p.CreateTime != nil {
		if p.CreateTime.After(now) {
			bad("create_time", "in the future")
		}
		c.CreateTime = p.CreateTime.UTC()
	}
	if problem := directory.NameProblem(p.DisplayName, false, MaxCredentialName); problem != "" {
		bad("display_name", problem)
	}
	c.DisplayName = p.DisplayName

	key, cose, keyField := importKey(p, c.CSRType, bad)
	if key != nil {
		if err := setKey(&c, key); err != nil {
			bad(keyField, "unsupported public key")
		} else if p.JWKThumbprint != "" && !sameThumbprint(p.JWKThumbprint, c.JWKThumbprint) {
			bad("jwk_thumbprint", "is not the thumbprint of the key")
		}
	}

	if c.CSRType == CSRJWT {
		for name, given := range map[string]bool{"credential_id": p.CredentialID != "", "sign_count": p.SignCount != 0,
			"aaguid": p.AAGUID != "", "backup_eligible": p.BackupEligible, "backup_state": p.BackupState,
			"transports": len(p.Transports) > 0, "user_handle": p.UserHandle != ""} {
			if given {
				bad(name, "a JWT (software) passkey has no "+name+"; it is found by its key")
			}
		}
		return c
	}

	k := &WebAuthnKey{PublicKey: cose, BackupEligible: p.BackupEligible, BackupState: p.BackupState,
		Transports: p.Transports, AttestationType: "none",
		AAGUID: make([]byte, 16)} // all zeros: an authenticator that does not say what it is
	switch id, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(p.CredentialID, "=")); {
	case p.CredentialID == "":
		bad("credential_id", "empty string")
	case err != nil:
		bad("credential_id", "not base64url")
	case len(id) < 16 || len(id) > 1023:
		bad("credential_id", "must be 16 to 1023 bytes")
	default:
		k.CredentialID = id
	}
	if p.SignCount < 0 || p.SignCount > math.MaxUint32 {
		bad("sign_count", "must be 0 to 4294967295")
	} else {
		k.SignCount = uint32(p.SignCount)
	}
	if p.AAGUID != "" {
		if a, err := hex.DecodeString(strings.ReplaceAll(p.AAGUID, "-", "")); err != nil || len(a) != 16 {
			bad("aaguid", "not a UUID")
		} else {
			k.AAGUID = a
		}
	}
	if p.BackupState && !p.BackupEligible {
		bad("backup_state", "a passkey that is not backup eligible cannot be backed up")
	}
	for i, t := range p.Transports {
		if !slices.Contains(transports, protocol.AuthenticatorTransport(t)) {
			bad("transports["+itoa(i)+"]", `must be one of "usb", "nfc", "ble", "smart-card", "hybrid", "internal"`)
		}
	}
	if p.UserHandle != "" {
		if h, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(p.UserHandle, "=")); err != nil || len(h) > 64 {
			bad("user_handle", "must be base64url of at most 64 bytes")
		} else {
			k.UserHandle = h
		}
	}
	c.WebAuthn = k
	return c
}

// importKey decodes the key of p in each form given, checks that they are
// one key of a kind the csr type allows, and returns it with its COSE form
// and the field that gave it.
func importKey(p PortableCredential, csrType string, bad func(name, description string)) (crypto.PublicKey, []byte, string) {
	type form struct {
		field string
		cose  []byte
		key   crypto.PublicKey
	}
	var forms []form
	if p.PublicKey != "" {
		f := form{field: "public_key"}
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(p.PublicKey, "="))
		if err != nil {
			bad(f.field, "not base64url")
			return nil, nil, f.field
		}
		if f.key, err = coseKey(b); err != nil {
			bad(f.field, err.Error())
			return nil, nil, f.field
		}
		f.cose = b
		forms = append(forms, f)
	}
	for _, j := range []struct {
		field string
		raw   []byte
	}{{"jwk", p.JWK}, {"jwk_json", []byte(p.JWKJSON)}} {
		if len(j.raw) == 0 || string(j.raw) == "null" {
			continue
		}
		f := form{field: j.field}
		var err error
		if f.cose, err = jwkCOSE(j.raw); err == nil {
			f.key, err = coseKey(f.cose)
		}
		if err != nil {
			bad(f.field, err.Error())
			return nil, nil, f.field
		}
		forms = append(forms, f)
	}
	switch {
	case len(forms) == 0:
		bad("public_key", "give the key as public_key (COSE), jwk or jwk_json")
		return nil, nil, "public_key"
	case csrType == CSRJWT:
		if k, ok := forms[0].key.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
			bad(forms[0].field, "a JWT (software) passkey's key must be a P-256 EC key")
			return nil, nil, forms[0].field
		}
	}
	for _, f := range forms[1:] {
		if !f.key.(interface{ Equal(crypto.PublicKey) bool }).Equal(forms[0].key) {
			bad(f.field, "is not the same key as "+forms[0].field)
			return nil, nil, f.field
		}
	}
	return forms[0].key, forms[0].cose, forms[0].field
}

// coseKey parses a COSE public key of an algorithm and size Latchkey
// accepts for an imported passkey; go-webauthn checks that the point is on
// its curve.
func coseKey(cose []byte) (crypto.PublicKey, error) {
	parsed, err := webauthncose.ParsePublicKey(cose)
	if err != nil {
		return nil, errors.New("not a valid COSE public key: " + details(err))
	}
	var alg int64
	switch k := parsed.(type) {
	case webauthncose.EC2PublicKeyData:
		alg = k.Algorithm
	case webauthncose.OKPPublicKeyData:
		alg = k.Algorithm
	case webauthncose.RSAPublicKeyData:
		alg = k.Algorithm
	}
	if !slices.Contains(importAlgorithms, webauthncose.COSEAlgorithmIdentifier(alg)) {
		return nil, errors.New("algorithm " + webauthncose.COSEAlgorithmIdentifier(alg).String() +
			" is not accepted: use ES256, ES384, EdDSA or RSA (RS256…PS512)")
	}
	key, err := publicKey(cose)
	if err != nil {
		return nil, errors.New("not a valid COSE public key")
	}
	if k, ok := key.(*rsa.PublicKey); ok && (k.N.BitLen() < minRSABits || k.N.BitLen() > maxRSABits) {
		return nil, errors.New("an RSA key must have 2048 to 8192 bits")
	}
	return key, nil
}

// jwkCOSE converts a public JWK to a COSE key. Its "alg", if any, chooses
// the algorithm of an RSA key (RS256 otherwise); an EC key's curve decides
// its own.
func jwkCOSE(raw []byte) ([]byte, error) {
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil {
		return nil, errors.New("not a valid JWK: " + strings.TrimPrefix(err.Error(), "go-jose/go-jose: "))
	}
	if !jwk.IsPublic() {
		return nil, errors.New("a private key: give only the public key")
	}
	var v any
	switch k := jwk.Key.(type) {
	case *ecdsa.PublicKey:
		var alg webauthncose.COSEAlgorithmIdentifier
		var crv webauthncose.COSEEllipticCurve
		switch k.Curve {
		case elliptic.P256():
			alg, crv = webauthncose.AlgES256, webauthncose.P256
		case elliptic.P384():
			alg, crv = webauthncose.AlgES384, webauthncose.P384
		default:
			return nil, errors.New("EC curve " + k.Curve.Params().Name + " is not accepted: use P-256 or P-384")
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		v = webauthncose.EC2PublicKeyData{PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(alg)},
			Curve: int64(crv), XCoord: k.X.FillBytes(make([]byte, size)), YCoord: k.Y.FillBytes(make([]byte, size))}
	case ed25519.PublicKey:
		v = webauthncose.OKPPublicKeyData{PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.OctetKey), Algorithm: int64(webauthncose.AlgEdDSA)},
			Curve: int64(webauthncose.Ed25519), XCoord: k}
	case *rsa.PublicKey:
		alg := webauthncose.AlgRS256
		if jwk.Algorithm != "" {
			var ok bool
			if alg, ok = rsaAlgorithms[jwk.Algorithm]; !ok {
				return nil, errors.New(`alg "` + jwk.Algorithm + `" is not an RSA algorithm Latchkey accepts (RS256…PS512)`)
			}
		}
		e := big64(int64(k.E))
		v = webauthncose.RSAPublicKeyData{PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.RSAKey), Algorithm: int64(alg)},
			Modulus: k.N.Bytes(), Exponent: e}
	default:
		return nil, errors.New("key type is not accepted: use EC (P-256, P-384), OKP (Ed25519) or RSA")
	}
	return webauthncbor.Marshal(v)
}

var rsaAlgorithms = map[string]webauthncose.COSEAlgorithmIdentifier{
	"RS256": webauthncose.AlgRS256, "RS384": webauthncose.AlgRS384, "RS512": webauthncose.AlgRS512,
	"PS256": webauthncose.AlgPS256, "PS384": webauthncose.AlgPS384, "PS512": webauthncose.AlgPS512,
}

// big64 is n big-endian without leading zeros, as COSE writes an RSA exponent.
func big64(n int64) []byte {
	var b []byte
	for ; n > 0; n >>= 8 {
		b = append([]byte{byte(n)}, b...)
	}
	return b
}

// sameThumbprint compares thumbprints in any base64 form.
func sameThumbprint(a, b string) bool {
	x, err1 := decodeBase64(a)
	y, err2 := decodeBase64(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

// ImportCredentials validates passkeys exported elsewhere and stores them
// as ACTIVE credentials of an identity, all or none; with dryRun it checks
// everything and stores nothing. Whoever holds their private keys signs in
// as the identity, so the actor must hold every management scope the
// identity does, as for a binding link. A credential id or key already in
// the request or in the realm (this identity's or another's) is refused,
// naming the field.
func (s *Service) ImportCredentials(ctx context.Context, tenantID, realmID, identityID string, in []PortableCredential, dryRun bool) ([]Credential, error) {
	var v latchkey.Violations
	switch {
	case len(in) == 0:
		v.Add("credentials", "must list at least one credential")
	case len(in) > MaxImport:
		v.Add("credentials", "more than "+itoa(MaxImport)+" credentials")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	out := make([]Credential, len(in))
	for i, p := range in {
		c := decodeImport(p, "credentials["+itoa(i)+"].", now, &v)
		c.ID, c.IdentityID, c.RealmID, c.TenantID, c.UpdateTime = latchkey.NewID(), identityID, realmID, tenantID, now
		out[i] = c
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	err := s.store.Update(ctx, func(tx Tx) error {
		if _, err := identity(ctx, tx, tenantID, realmID, identityID); err != nil {
			return err
		}
		if err := mayBind(ctx, tx, []string{identityID}); err != nil {
			return err
		}
		if err := s.checkUnique(ctx, tx, identityID, out); err != nil {
			return err
		}
		if dryRun {
			return nil
		}
		for _, c := range out {
			if err := tx.CreateCredential(ctx, c); err != nil {
				if errors.Is(err, latchkey.ErrDuplicate) {
					return latchkey.Errorf(latchkey.CodeConflict, "a credential with the same id or key was stored meanwhile")
				}
				return err
			}
			if err := s.recordPasskey(ctx, tx, audit.PasskeyImported, c); err != nil {
				return err
			}
		}
		return tx.RefreshEnrollment(ctx, identityID, now)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// checkUnique refuses credentials whose WebAuthn id or key is twice in the
// request or already in the realm: a 409 naming each field.
func (s *Service) checkUnique(ctx context.Context, tx Tx, identityID string, cs []Credential) error {
	var v latchkey.Violations
	var failed error
	ids, keys := map[string]int{}, map[string]int{}
	taken := func(field string, c Credential, err error) {
		switch {
		case errors.Is(err, latchkey.ErrNotFound):
		case err != nil:
			failed = err
		case c.IdentityID == identityID:
			v.Add(field, "this identity already has this passkey (credential "+c.ID+")")
		default:
			v.Add(field, "this passkey belongs to another identity of the realm")
		}
	}
	for i, c := range cs {
		field := "credentials[" + itoa(i) + "]."
		if c.WebAuthn != nil {
			id := string(c.WebAuthn.CredentialID)
			if j, ok := ids[id]; ok {
				v.Add(field+"credential_id", "the same as credentials["+itoa(j)+"]'s")
				continue
			}
			ids[id] = i
			found, _, err := tx.GetSignerByWebAuthnID(ctx, c.RealmID, c.WebAuthn.CredentialID)
			taken(field+"credential_id", found, err)
		}
		keyField := field + "public_key"
		if c.WebAuthn == nil {
			keyField = field + "jwk_json"
		}
		if j, ok := keys[c.JWKThumbprint]; ok {
			v.Add(keyField, "the same key as credentials["+itoa(j)+"]'s")
			continue
		}
		keys[c.JWKThumbprint] = i
		found, _, err := tx.GetSignerByThumbprint(ctx, c.RealmID, c.JWKThumbprint)
		taken(keyField, found, err)
	}
	if failed != nil || len(v) == 0 {
		return failed
	}
	e := latchkey.Invalid(v...)
	e.Code, e.Message = latchkey.CodeConflict, "credentials already registered"
	return e
}

// ExportCredentials returns the ACTIVE passkeys of an identity in the form
// ImportCredentials takes: their public parts only.
func (s *Service) ExportCredentials(ctx context.Context, tenantID, realmID, identityID string) ([]PortableCredential, error) {
	if _, err := identity(ctx, s.store, tenantID, realmID, identityID); err != nil {
		return nil, err
	}
	out := []PortableCredential{}
	opts := latchkey.ListOptions{Limit: 100, SkipTotal: true}
	for {
		page, _, err := s.store.ListCredentials(ctx, realmID, identityID, opts)
		if err != nil {
			return nil, err
		}
		for _, c := range page {
			if c.State == Active {
				out = append(out, portable(c))
			}
		}
		if len(page) < opts.Limit {
			return out, nil
		}
		opts.After = page[len(page)-1].ID
	}
}

// portable is the public part of a credential as an export gives it.
func portable(c Credential) PortableCredential {
	created := c.CreateTime
	p := PortableCredential{ID: c.ID, IdentityID: c.IdentityID, RealmID: c.RealmID, TenantID: c.TenantID, State: c.State,
		CSRType: c.CSRType, JWKJSON: c.JWKJSON, JWKThumbprint: c.JWKThumbprint, CreateTime: &created, DisplayName: c.DisplayName}
	if k := c.WebAuthn; k != nil {
		p.CredentialID = base64.RawURLEncoding.EncodeToString(k.CredentialID)
		p.PublicKey = base64.RawURLEncoding.EncodeToString(k.PublicKey)
		p.SignCount, p.BackupEligible, p.BackupState, p.Transports = int64(k.SignCount), k.BackupEligible, k.BackupState, k.Transports
		p.UserHandle = base64.RawURLEncoding.EncodeToString(k.UserHandle)
		p.AAGUID = FormatAAGUID(k.AAGUID)
	}
	return p
}
