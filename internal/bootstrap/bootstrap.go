// Package bootstrap makes an empty database usable, once: it creates the
// first tenant, the admin realm, the managed management-API resource server
// and the managed management application whose client credentials an
// administrator uses for the first API token. It also checks, on every
// start, that the master key is the one the database was created with.
//
// It must not import HTTP packages or storage engines.
package bootstrap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secretbox"
	"github.com/latchkey/latchkey/internal/store"
)

// File is the name of the credentials file in the data directory.
const File = "bootstrap.json"

// Credentials are what bootstrap.json holds: exactly the keys an
// administrator needs to obtain a management API token.
type Credentials struct {
	TenantID      string `json:"tenant_id"`
	RealmID       string `json:"realm_id"`
	ApplicationID string `json:"application_id"`
	ClientID      string `json:"client_id"`
	ClientSecret  string `json:"client_secret"`
	TokenEndpoint string `json:"token_endpoint"`
	APIBaseURL    string `json:"api_base_url"`
}

// Settings names.
const (
	settingBootstrap = "bootstrap"        // {"tenant_id","realm_id","application_id"}
	settingKeyCheck  = "master_key_check" // a value sealed with the master key
	// settingSigningKey + an algorithm: written once, by the node that
	// makes the first signing key of that algorithm.
	settingSigningKey = "signing_key."
)

// CheckMasterKey verifies that box opens what the database sealed, and on a
// new database records a value to check against next time.
func CheckMasterKey(ctx context.Context, st store.Store, box *secretbox.Box) error {
	sealed, err := st.GetSetting(ctx, settingKeyCheck)
	if errors.Is(err, latchkey.ErrNotFound) {
		err = st.CreateSetting(ctx, settingKeyCheck, box.Seal([]byte("latchkey")))
		if errors.Is(err, latchkey.ErrDuplicate) { // another node made it first
			return CheckMasterKey(ctx, st, box)
		}
		return err
	}
	if err != nil {
		return err
	}
	if _, err := box.Open(sealed); err != nil {
		return errors.New("the master key does not match this database: give every node the same --master-key (LATCHKEY_MASTER_KEY)")
	}
	return nil
}

// RotateMasterKey seals every secret in st anew with box's master key,
// which opens them meanwhile with its previous key too, in transactions
// of at most batch rows; done hears of each. The value that CheckMasterKey
// opens goes last: until then a node given only the new key refuses to
// start, so that none serves with secrets it cannot open. Interrupted
// anywhere, even by kill -9, it resumes when run again.
func RotateMasterKey(ctx context.Context, st store.Store, box *secretbox.Box, batch int, done func(table string, changed int)) error {
	return st.Reseal(ctx, []string{settingKeyCheck}, batch, box.Reseal, done)
}

type ids struct {
	TenantID      string `json:"tenant_id"`
	RealmID       string `json:"realm_id"`
	ApplicationID string `json:"application_id"`
}

// Run bootstraps the database if it has never been, and returns the
// management credentials and whether they were created now. Concurrent
// nodes starting on one empty database bootstrap it exactly once. What it
// makes is dated by clock.
func Run(ctx context.Context, st store.Store, box *secretbox.Box, clock latchkey.Clock, issuer func(tenantID, realmID, appID string) string, apiBaseURL string) (Credentials, bool, error) {
	created := false
	var got ids
	err := st.Update(ctx, func(tx store.Tx) error {
		raw, err := tx.GetSetting(ctx, settingBootstrap)
		switch {
		case err == nil:
			if err := json.Unmarshal([]byte(raw), &got); err != nil {
				return err
			}
		case errors.Is(err, latchkey.ErrNotFound):
			got = ids{TenantID: latchkey.NewTenantID(), RealmID: latchkey.NewID(), ApplicationID: latchkey.NewUUID()}
			b, _ := json.Marshal(got)
			// The setting is written first: a concurrent bootstrap waits on it
			// and then fails, rolling back everything it made.
			if err := tx.CreateSetting(ctx, settingBootstrap, string(b)); err != nil {
				return err
			}
			created = true
			if err := create(ctx, tx, box, got, clock.Now()); err != nil {
				return err
			}
		default:
			return err
		}
		// The signing keys are made here, for a new database and for one
		// made before an algorithm was added, by exactly one of the nodes
		// starting together: were each node to make its own (as
		// oauth.Service.Start would), they would sign with keys the others
		// do not publish yet. A setting per algorithm is the lock, as above.
		return oauth.EnsureSigningKeys(ctx, tx, box, clock.Now(), func(alg string) error {
			name := settingSigningKey + alg
			if _, err := tx.GetSetting(ctx, name); err == nil {
				return nil // made once and lost since: no node waits on it
			}
			return tx.CreateSetting(ctx, name, "")
		})
	})
	if errors.Is(err, latchkey.ErrDuplicate) {
		return Run(ctx, st, box, clock, issuer, apiBaseURL)
	}
	if err != nil {
		return Credentials{}, false, err
	}
	creds, err := credentials(ctx, st, box, got, issuer, apiBaseURL)
	return creds, created, err
}

// ReadCredentials returns the management credentials of a bootstrapped
// database (latchkey.ErrNotFound before), with the secret it holds now.
func ReadCredentials(ctx context.Context, st store.Store, box *secretbox.Box, issuer func(tenantID, realmID, appID string) string, apiBaseURL string) (Credentials, error) {
	raw, err := st.GetSetting(ctx, settingBootstrap)
	if err != nil {
		return Credentials{}, err
	}
	var got ids
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		return Credentials{}, err
	}
	return credentials(ctx, st, box, got, issuer, apiBaseURL)
}

func credentials(ctx context.Context, st store.Store, box *secretbox.Box, got ids, issuer func(tenantID, realmID, appID string) string, apiBaseURL string) (Credentials, error) {
	app, sealed, err := st.GetApplication(ctx, got.RealmID, got.ApplicationID)
	if err != nil {
		return Credentials{}, fmt.Errorf("management application: %w", err)
	}
	secret, err := box.Open(sealed)
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{
		TenantID: got.TenantID, RealmID: got.RealmID, ApplicationID: got.ApplicationID,
		ClientID: app.ProtocolConfig.ClientID, ClientSecret: string(secret),
		TokenEndpoint: issuer(got.TenantID, got.RealmID, got.ApplicationID) + "/token",
		APIBaseURL:    apiBaseURL,
	}, nil
}

// ManagementTokenLifetime is how long tokens of the management application live.
const ManagementTokenLifetime = 24 * time.Hour

func create(ctx context.Context, tx store.Tx, box *secretbox.Box, got ids, now time.Time) error {
	rsID := latchkey.NewUUID()
	secret := latchkey.RandomString(48)
	steps := []struct {
		run                            func() error
		realmID, action, kind, subject string
	}{
		{func() error {
			return tx.CreateTenant(ctx, directory.Tenant{ID: got.TenantID, DisplayName: "Latchkey", CreateTime: now, UpdateTime: now})
		}, "", "tenant.create", "Tenant", got.TenantID},
		{func() error {
			return tx.CreateRealm(ctx, directory.Realm{ID: got.RealmID, TenantID: got.TenantID, DisplayName: "Latchkey Admin",
				Classification: directory.SecureWorkforce, CreateTime: now, UpdateTime: now})
		}, got.RealmID, "realm.create", "Realm", got.RealmID},
		{func() error {
			return tx.CreateResourceServer(ctx, oauth.ResourceServer{ID: rsID, RealmID: got.RealmID, TenantID: got.TenantID,
				DisplayName: "Latchkey Management API", IsManaged: true, Identifier: oauth.ManagementAPI,
				Scopes: oauth.ManagementScopes, CreateTime: now, UpdateTime: now})
		}, got.RealmID, "resource_server.create", "ResourceServer", rsID},
		{func() error {
			return tx.CreateApplication(ctx, oauth.Application{
				ID: got.ApplicationID, RealmID: got.RealmID, TenantID: got.TenantID, ResourceServerID: rsID,
				DisplayName: "Latchkey Management API", IsManaged: true, Classification: "management_api",
				ProtocolConfig: oauth.ProtocolConfig{
					Type: "oauth2", AllowedScopes: oauth.ManagementScopes, ClientID: latchkey.RandomString(24),
					Confidentiality: "confidential", TokenEndpointAuthMethod: "client_secret_basic",
					GrantType: []string{"client_credentials"}, RedirectURIs: []string{},
					TokenConfiguration: oauth.TokenConfiguration{ExpiresAfter: int(ManagementTokenLifetime.Seconds()),
						TokenSigningAlgorithm: "RS256", SubjectField: "id"},
					PKCE: "disabled", TokenFormat: "self_contained",
				},
				CreateTime: now, UpdateTime: now,
			}, box.Seal([]byte(secret)))
		}, got.RealmID, "application.create", "Application", got.ApplicationID},
	}
	for _, s := range steps {
		if err := s.run(); err != nil {
			return err
		}
		if err := tx.RecordEvent(ctx, audit.NewAt(ctx, now, got.TenantID, s.realmID, s.action, s.kind, s.subject)); err != nil {
			return err
		}
	}
	return nil
}

// WriteFile writes the credentials to dir/bootstrap.json with mode 0600,
// replacing what was there.
func WriteFile(dir string, c Credentials) (string, error) {
	path := filepath.Join(dir, File)
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return "", err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return "", err
	}
	return path, os.Rename(tmp, path)
}

// ReadFile reads the credentials from dir/bootstrap.json.
func ReadFile(dir string) (Credentials, error) {
	var c Credentials
	b, err := os.ReadFile(filepath.Join(dir, File))
	if err != nil {
		return c, err
	}
	return c, json.Unmarshal(b, &c)
}
