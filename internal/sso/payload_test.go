package sso

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

func certificate(t *testing.T) (certPEM, keyPEM string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sp"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
}

// TestPayloadRules: what each payload type requires, its defaults, and the
// field a violation names.
func TestPayloadRules(t *testing.T) {
	cert, pub := certificate(t)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	edDER, _ := x509.MarshalPKIXPublicKey(edPub)
	edPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: edDER}))
	bareBase64 := strings.Join(strings.Split(cert, "\n")[1:len(strings.Split(cert, "\n"))-2], "")
	saml := `"type":"saml","acs_url":"https://sp.example/acs","audience_url":"urn:example:sp"`
	for _, tc := range []struct {
		name, payload string
		field         string // "" for valid
	}{
		{"minimal SAML takes defaults", `{` + saml + `}`, ""},
		{"SAML with a bare base64 certificate", `{` + saml + `,"validate_signed_requests":true,"sp_signature_certificates":[{"sp_public_signing_key":"` + bareBase64 + `"}]}`, ""},
		{"SAML encrypting to a public key", `{` + saml + `,"encrypt_assertions":true,"assertion_encryption_public_key":` + quote(pub) + `}`, ""},
		{"SAML encrypting to a certificate", `{` + saml + `,"encrypt_assertions":true,"assertion_encryption_public_key":` + quote(cert) + `}`, ""},
		{"SAML encrypting to an Ed25519 key", `{` + saml + `,"encrypt_assertions":true,"assertion_encryption_public_key":` + quote(edPEM) + `}`, "assertion_encryption_public_key"},
		{"SAML audience not a URI", `{"type":"saml","acs_url":"https://sp.example/acs","audience_url":"sp example"}`, "audience_url"},
		{"SAML relay state too long", `{` + saml + `,"default_relay_state":"` + strings.Repeat("x", 81) + `"}`, "default_relay_state"},
		{"SAML signed requests without a certificate", `{` + saml + `,"validate_signed_requests":true}`, "sp_signature_certificates"},
		{"SAML other SSO URL with signed requests", `{` + saml + `,"validate_signed_requests":true,"sp_signature_certificates":[{"sp_public_signing_key":` + quote(cert) + `}],"other_sso_urls":{"index":1,"url":"https://sp.example/acs2"}}`, "other_sso_urls"},
		{"SAML custom attribute without a value", `{` + saml + `,"additional_user_attributes":[{"name":"dept","name_format":"unspecified","value":"custom_static_string"}]}`, "additional_user_attributes[0].custom_value"},
		{"SAML attribute with a namespace", `{` + saml + `,"additional_user_attributes":[{"name":"dept","name_format":"unspecified","value":"email","namespace":"urn:x"}]}`, "additional_user_attributes[0].namespace"},
		{"SAML attributes of every value the engine knows", `{` + saml + `,"additional_user_attributes":[{"name":"g","name_format":"basic","value":"given_name"},{"name":"f","name_format":"uri","value":"family_name"},{"name":"m","name_format":"email_address","value":"groups"}]}`, ""},
		{"SAML attribute of an unknown value", `{` + saml + `,"additional_user_attributes":[{"name":"p","name_format":"unspecified","value":"password"}]}`, "additional_user_attributes[0].value"},
		{"SAML attribute of an unknown name format", `{` + saml + `,"additional_user_attributes":[{"name":"p","name_format":"urn:x","value":"email"}]}`, "additional_user_attributes[0].name_format"},
		{"WS-Fed minimal", `{"type":"ws_fed","acs_url":"https://sp.example/wsfed","audience_url":"urn:sp"}`, ""},
		{"WS-Fed namespaced groups claim", `{"type":"ws_fed","acs_url":"https://sp.example/wsfed","audience_url":"urn:sp","additional_user_attributes":[{"name":"role","name_format":"unspecified","value":"groups","namespace":"http://schemas.microsoft.com/ws/2008/06/identity/claims"}]}`, ""},
		{"WS-Fed SAML 1.1 tokens", `{"type":"ws_fed","acs_url":"https://sp.example/wsfed","audience_url":"urn:sp","token_type":"saml11"}`, ""},
		{"WS-Fed token type", `{"type":"ws_fed","acs_url":"https://sp.example/wsfed","audience_url":"urn:sp","token_type":"jwt"}`, "token_type"},
		{"WS-Fed name format", `{"type":"ws_fed","acs_url":"https://sp.example/wsfed","audience_url":"urn:sp","name_format":"emailish"}`, "name_format"},
		{"WS-Fed expiry", `{"type":"ws_fed","acs_url":"https://sp.example/wsfed","audience_url":"urn:sp","expiration_time_seconds":90000}`, "expiration_time_seconds"},
		{"bookmark data icon", `{"type":"bookmark","login_link":"https://a.example/","icon":"data:image/png;base64,AAAA"}`, ""},
		{"bookmark script icon", `{"type":"bookmark","login_link":"https://a.example/","icon":"javascript:alert(1)"}`, "icon"},
		{"bookmark on plain http", `{"type":"bookmark","login_link":"http://a.example/"}`, "login_link"},
		{"okta_idp without a domain", `{"type":"okta_idp","client_id":"c","identifying_claim_name":"email","identity_attribute":"email"}`, "okta_domain"},
		{"generic_oidc_idp with an Okta domain", `{"type":"generic_oidc_idp","client_id":"c","identifying_claim_name":"email","identity_attribute":"email","okta_domain":"a.okta.com","authorization_endpoint":"https://i/a","token_endpoint":"https://i/t","jwks_endpoint":"https://i/j"}`, "okta_domain"},
		{"generic_oidc_idp without a token endpoint", `{"type":"generic_oidc_idp","client_id":"c","identifying_claim_name":"email","identity_attribute":"email","authorization_endpoint":"https://i/a","jwks_endpoint":"https://i/j"}`, "token_endpoint"},
		{"okta_sso_bi_idp without a domain", `{"type":"okta_sso_bi_idp","pkce":"s256","okta_registration":{}}`, "okta_registration.domain"},
		{"generic_oidc without scopes", `{"type":"generic_oidc","redirect_uris":["https://a.example/cb"],"confidentiality":"confidential","pkce":"s256"}`, "scopes"},
		{"generic_oidc redirect with a fragment", `{"type":"generic_oidc","redirect_uris":["https://a.example/cb#x"],"scopes":[],"confidentiality":"confidential","pkce":"s256"}`, "redirect_uris[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _, err := preparePayload([]byte(tc.payload), nil)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if s, ok := p.(*SAML); ok && (s.Type != TypeSAML || s.NameFormat != "unspecified" || s.SignatureAlgorithm != "rsa_sha256" || s.AssertionValidityDurationSeconds != 300) {
					t.Errorf("SAML defaults: %+v", s)
				}
				if w, ok := p.(*WSFed); ok && (w.NameFormat != "unspecified" || w.AuthenticationContext != "x509" || w.SubjectUserNameAttribute != "user_name" ||
					w.SignatureAlgorithm != "rsa_sha256" || w.DigestAlgorithm != "sha256" || w.ExpirationTimeSeconds != 3600 || w.TokenType == "") {
					t.Errorf("WS-Fed defaults: %+v", w)
				}
				return
			}
			var e *latchkey.Error
			if !errors.As(err, &e) || len(e.Details) == 0 || e.Details[0].FieldViolations[0].Field != "payload."+tc.field {
				t.Errorf("got %v, want a violation of payload.%s", err, tc.field)
			}
		})
	}
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, "\n", `\n`) + `"` }
