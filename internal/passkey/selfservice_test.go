package passkey_test

import (
	"errors"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/passkey"
	"github.com/latchkey/latchkey/internal/testenv"
)

// TestSelfService: a signed-in identity's own binding job is a RETURN
// job of the hosted authenticator open for SelfServiceTTL, even for an
// administrator (it gives itself nothing it lacks); revoking its own
// passkeys refuses another identity's and the last one unconfirmed.
func TestSelfService(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e := newEnrolling(t, eng.Open)
			ctx, c := t.Context(), e.console
			j, token, err := e.svc.SelfServiceJob(ctx, c.TenantID, c.RealmID, c.AdminIdentityID)
			if err != nil {
				t.Fatal(err)
			}
			if j.DeliveryMethod != passkey.Return || j.AuthenticatorConfig == nil || j.AuthenticatorConfig.Config.Type != passkey.HostedWeb ||
				!j.ExpireTime.Equal(j.CreateTime.Add(passkey.SelfServiceTTL)) || len(token) != passkey.TokenLength {
				t.Errorf("self-service job %+v (token of %d characters)", j, len(token))
			}
			if _, err := e.svc.Advance(ctx, c.TenantID, c.RealmID, c.AdminIdentityID, j.ID, token, passkey.LinkOpened); err != nil {
				t.Errorf("the job's token does not open it: %v", err)
			}

			// Two passkeys of the administrator, one of another identity.
			mine := []string{credential(t, e, c.AdminIdentityID, "a"), credential(t, e, c.AdminIdentityID, "b")}
			bea, err := directory.NewService(e.st.Directory()).CreateIdentity(ctx, c.TenantID, c.RealmID,
				directory.Identity{DisplayName: "Bea", Traits: directory.Traits{Username: "bea"}})
			if err != nil {
				t.Fatal(err)
			}
			other := bea.ID
			theirs := credential(t, e, other, "c")
			if _, err := e.svc.RevokeOwnCredential(ctx, c.TenantID, c.RealmID, c.AdminIdentityID, theirs, true); !isNotFound(err) {
				t.Errorf("revoking another identity's passkey: %v, want not found", err)
			}
			if _, err := e.svc.RevokeOwnCredential(ctx, c.TenantID, c.RealmID, c.AdminIdentityID, mine[0], false); err != nil {
				t.Errorf("revoking one of two: %v", err)
			}
			if _, err := e.svc.RevokeOwnCredential(ctx, c.TenantID, c.RealmID, c.AdminIdentityID, mine[1], false); !errors.Is(err, passkey.ErrLastPasskey) {
				t.Errorf("revoking the last one unconfirmed: %v, want ErrLastPasskey", err)
			}
			if got, err := e.svc.RevokeOwnCredential(ctx, c.TenantID, c.RealmID, c.AdminIdentityID, mine[1], true); err != nil || got.State != passkey.RevokedState {
				t.Errorf("revoking the last one, confirmed: %+v %v", got, err)
			}
			if got, _ := e.svc.GetCredential(ctx, c.TenantID, c.RealmID, other, theirs); got.State != passkey.Active {
				t.Errorf("the other identity's passkey is %s", got.State)
			}
		})
	}
}

func isNotFound(err error) bool {
	e, ok := errors.AsType[*latchkey.Error](err)
	return ok && e.Code == latchkey.CodeNotFound
}

// credential stores an active JWT passkey of the identity (its key's
// thumbprint made of name) and returns its id.
func credential(t *testing.T, e enrolling, identityID, name string) string {
	t.Helper()
	now := e.clock.Now()
	c := passkey.Credential{ID: latchkey.NewID(), IdentityID: identityID, RealmID: e.console.RealmID, TenantID: e.console.TenantID,
		State: passkey.Active, CSRType: passkey.CSRJWT, JWKJSON: "{}", JWKThumbprint: "thumbprint-" + name, CreateTime: now, UpdateTime: now}
	if err := e.st.Passkey().CreateCredential(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	return c.ID
}
