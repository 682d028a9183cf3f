package httpapi_test

import (
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"

	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
)

// yubiKey5 is the AAGUID of the YubiKey 5 Series, which the shipped list names.
var yubiKey5 = [16]byte{0xcb, 0x69, 0x48, 0x1e, 0x8f, 0xf7, 0x40, 0x39, 0x93, 0xec, 0x0a, 0x27, 0x29, 0xa1, 0x54, 0xa8}

// TestCredentialDetails: credentials show their authenticator (AAGUID,
// provider name, backup flags, transports) and last use, which sign-ins
// record at most once a minute per passkey; PATCH renames them, with bad
// names, another tenant, another realm and too few scopes refused. Each
// engine's node has a clock of its own.
func TestCredentialDetails(t *testing.T) {
	t.Parallel()
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			// The node's clock runs behind the real one, which the test
			// checks the SDK's request JWT against, by more than the test
			// moves it.
			clock := testenv.NewClock()
			clock.Advance(-70 * time.Second)
			n := testenv.StartNode(t, eng.Name, func(cfg *server.Config) {
				cfg.Logger, cfg.Clock = slog.New(slog.DiscardHandler), clock.Now
			})
			e := &env{node: n}
			e.api = client{base: n.URL, tenant: n.Creds().TenantID, token: n.Token(t, "")}
			c := e.api
			f := newSDKFixture(t, e)
			adaKid := thumbprint(t, &f.adaKey.PublicKey)
			adaCred := items(t, c.list(t, "/realms/"+f.realm+"/identities/"+f.ada+"/credentials"), "credentials")[0]
			adaPath := "/realms/" + f.realm + "/identities/" + f.ada + "/credentials/" + str(t, adaCred, "id")

			// A software passkey has no authenticator; none has signed in yet.
			assertKeys(t, adaCred, "backup_eligible", "backup_state", "create_time", "csr_type", "display_name", "id", "identity_id",
				"jwk_json", "jwk_thumbprint", "realm_id", "state", "tenant_id", "transports", "update_time")

			// A synced passkey of a known provider.
			cyd := str(t, newIdentity(t, c, f.realm, "cyd"), "id")
			b := newBinding(t, c, f.realm, cyd, f.config)
			auth := virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{BackupEligible: true, BackupState: true})
			auth.Aaguid = yubiKey5
			bound := b.call(t, c, "bind", b.token, webauthnProofWith(t, b.call(t, c, "getInfo", b.token, nil).JSON(t), sdkOrigin, auth, newCredential(t)))
			if bound.Status != http.StatusOK {
				t.Fatalf("bind cyd: %d %s", bound.Status, bound.Body)
			}
			cydCred := c.get(t, "/realms/"+f.realm+"/identities/"+cyd+"/credentials/"+str(t, bound.JSON(t), "id"))
			if cydCred["aaguid"] != "cb69481e-8ff7-4039-93ec-0a2729a154a8" || cydCred["authenticator_name"] != "YubiKey 5 Series" ||
				cydCred["backup_eligible"] != true || cydCred["backup_state"] != true || cydCred["transports"] == nil {
				t.Errorf("credential of a known synced passkey: %v", cydCred)
			}

			// Sign-ins record the last use, to the minute.
			signIn := func() {
				t.Helper()
				req := f.start(t)
				claims, now := f.proofClaims(req, f.ada), clock.Now().Unix() // signed at the node's time
				claims["iat"], claims["nbf"], claims["exp"] = now, now-60, now+300
				f.allowed(t, f.post(t, softwareClaims(t, f.adaKey, adaKid, claims)), "ada")
			}
			lastUse := func() (time.Time, string) {
				t.Helper()
				cred := c.get(t, adaPath)
				at, err := time.Parse(time.RFC3339Nano, str(t, cred, "last_used_time"))
				if err != nil {
					t.Fatalf("last_used_time of %v: %v", cred, err)
				}
				return at, str(t, cred, "last_used_user_agent")
			}
			first := clock.Now().Truncate(time.Microsecond)
			signIn()
			if at, ua := lastUse(); !at.Equal(first) || ua == "" {
				t.Errorf("after a sign-in: last use %v from %q, want %v", at, ua, first)
			}
			clock.Advance(30 * time.Second)
			signIn()
			if at, _ := lastUse(); !at.Equal(first) {
				t.Errorf("a sign-in 30 s later wrote its use: %v, want %v", at, first)
			}
			clock.Advance(31 * time.Second)
			signIn()
			if at, _ := lastUse(); !at.Equal(first.Add(61 * time.Second)) {
				t.Errorf("a sign-in 61 s later: last use %v, want %v", at, first.Add(61*time.Second))
			}

			// Rename; "" gives the provider's name back; read-only fields may come back as read.
			renamed := c.patch(t, adaPath, map[string]any{"credential": map[string]any{"display_name": "Ada's phone"}})
			if renamed["display_name"] != "Ada's phone" || c.get(t, adaPath)["display_name"] != "Ada's phone" {
				t.Errorf("renamed: %v", renamed)
			}
			adaCred["display_name"] = ""
			if cleared := c.patch(t, adaPath, map[string]any{"credential": adaCred}); cleared["display_name"] != "" {
				t.Errorf("cleared: %v", cleared)
			}
			assertInvalid(t, c.do(t, "PATCH", adaPath, map[string]any{"credential": map[string]any{"display_name": strings.Repeat("x", 65)}}),
				"credential.display_name", "longer than 64 characters")
			assertInvalid(t, c.do(t, "PATCH", adaPath, map[string]any{"credential": map[string]any{"display_name": "a\x07b"}}),
				"credential.display_name", "contains a control character")
			assertInvalid(t, c.do(t, "PATCH", adaPath, map[string]any{"credential": map[string]any{"nickname": "x"}}),
				"credential.nickname", "unknown field")
			assertInvalid(t, c.do(t, "PATCH", adaPath, map[string]any{"credential": map[string]any{"display_name": 7}}),
				"credential.display_name", "must be a string")
			rename := map[string]any{"credential": map[string]any{"display_name": "Mallory's"}}
			for what, r := range map[string]testenv.Response{
				"credentials:read only":   c.withToken(n.Token(t, "credentials:read")).do(t, "PATCH", adaPath, rename),
				"credentials:revoke only": c.withToken(n.Token(t, "credentials:revoke")).do(t, "PATCH", adaPath, rename),
				"another tenant":          client{base: n.URL, tenant: "0001ffffffffffff", token: c.token}.do(t, "PATCH", adaPath, rename),
			} {
				if r.Status != http.StatusForbidden {
					t.Errorf("%s: %d %s, want 403", what, r.Status, r.Body)
				}
			}
			other := newRealm(t, c, "Elsewhere")
			assertNotFound(t, c.do(t, "PATCH", strings.Replace(adaPath, f.realm, other, 1), rename), "Credential", str(t, adaCred, "id"), "credential not found")
			assertNotFound(t, c.do(t, "PATCH", "/realms/"+f.realm+"/identities/"+cyd+"/credentials/"+str(t, adaCred, "id"), rename),
				"Credential", str(t, adaCred, "id"), "credential not found")
			if name := c.get(t, adaPath)["display_name"]; name != "" {
				t.Errorf("a refused rename changed the name to %v", name)
			}
		})
	}
}

// TestAuthenticatorRulesAPI: an authenticator config's rules (Latchkey
// extensions of its config) are validated, shown, and enforced at binding
// and at sign-in through the embedded SDK, with the reason told.
func TestAuthenticatorRulesAPI(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		c := e.api
		f := newSDKFixture(t, e)
		configPath := "/realms/" + f.realm + "/authenticator-configs/" + f.config
		if got := c.get(t, configPath)["config"].(map[string]any); got["allowed_aaguids"] != nil || got["device_bound_only"] != nil {
			t.Errorf("a config without rules shows them: %v", got)
		}
		assertInvalid(t, c.do(t, "PATCH", configPath, map[string]any{"authenticator_config": map[string]any{
			"config": map[string]any{"denied_aaguids": []string{"yubikey"}}}}),
			"authenticator_config.config.denied_aaguids[0]", "not an AAGUID (a UUID such as cb69481e-8ff7-4039-93ec-0a2729a154a8)")

		// Device-bound passkeys only: a synced one does not bind.
		got := c.patch(t, configPath, map[string]any{"authenticator_config": map[string]any{"config": map[string]any{"device_bound_only": true}}})
		if got["config"].(map[string]any)["device_bound_only"] != true {
			t.Errorf("config with a rule: %v", got)
		}
		cyd := str(t, newIdentity(t, c, f.realm, "cyd"), "id")
		b := newBinding(t, c, f.realm, cyd, f.config)
		synced := virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{BackupEligible: true})
		synced.Aaguid = yubiKey5
		info := b.call(t, c, "getInfo", b.token, nil).JSON(t)
		assertError(t, b.call(t, c, "bind", b.token, webauthnProofWith(t, info, sdkOrigin, synced, newCredential(t))), http.StatusForbidden, "forbidden",
			"only device-bound passkeys (such as a security key) are allowed here; this passkey from YubiKey 5 Series is synced between devices")
		if s := b.state(t, c); s != "REQUEST_DELIVERED" {
			t.Errorf("a refused passkey spent the link: %s", s)
		}

		// Bea's passkey is denied at sign-in; ada's software passkey is not on an allow list.
		denied := strings.ToUpper(hexUUID(f.beaAuth.Aaguid[:])) // upper case is normalized
		c.patch(t, configPath, map[string]any{"authenticator_config": map[string]any{"config": map[string]any{"denied_aaguids": []string{denied}}}})
		req := f.start(t)
		answer := f.post(t, f.webauthnClaims(t, sdkOrigin, f.proofClaims(req, f.bea))).JSON(t)
		if answer["type"] != "deny" || !strings.HasPrefix(str(t, answer, "message"), "passkeys from an unknown provider (AAGUID "+strings.ToLower(denied)+") are not allowed here") {
			t.Errorf("a denied passkey's sign-in: %v", answer)
		}
		c.patch(t, configPath, map[string]any{"authenticator_config": map[string]any{"config": map[string]any{
			"denied_aaguids": []string{}, "allowed_aaguids": []string{"cb69481e-8ff7-4039-93ec-0a2729a154a8"}}}})
		req = f.start(t)
		answer = f.post(t, softwareClaims(t, f.adaKey, thumbprint(t, &f.adaKey.PublicKey), f.proofClaims(req, f.ada))).JSON(t)
		if answer["type"] != "deny" || answer["message"] != "only passkeys from the providers this organization approved are allowed here, and this one is from a software passkey" {
			t.Errorf("a software passkey's sign-in under an allow list: %v", answer)
		}
		// Without rules, both sign in again.
		c.patch(t, configPath, map[string]any{"authenticator_config": map[string]any{"config": map[string]any{"allowed_aaguids": []string{}, "device_bound_only": false}}})
		req = f.start(t)
		f.allowed(t, f.post(t, f.webauthnClaims(t, sdkOrigin, f.proofClaims(req, f.bea))), "bea")
	})
}

// hexUUID writes 16 bytes as a UUID.
func hexUUID(b []byte) string {
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
