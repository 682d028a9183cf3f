package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/oauth"
)

const resourceServerColumns = `id, realm_id, tenant_id, display_name, is_managed, identifier, scopes, create_time, update_time`

func scanResourceServer(s interface{ Scan(...any) error }, v *oauth.ResourceServer) error {
	var scopes string
	var ct, ut int64
	if err := s.Scan(&v.ID, &v.RealmID, &v.TenantID, &v.DisplayName, &v.IsManaged, &v.Identifier, &scopes, &ct, &ut); err != nil {
		return err
	}
	v.CreateTime, v.UpdateTime = fromMicros(ct), fromMicros(ut)
	return json.Unmarshal([]byte(scopes), &v.Scopes)
}

func (t *tx) CreateResourceServer(ctx context.Context, v oauth.ResourceServer) error {
	scopes, _ := json.Marshal(v.Scopes)
	_, err := t.exec(ctx, latchkey.ErrNoParent, `INSERT INTO resource_servers (`+resourceServerColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		v.ID, v.RealmID, v.TenantID, v.DisplayName, v.IsManaged, v.Identifier, string(scopes), micros(v.CreateTime), micros(v.UpdateTime))
	return err
}

func (t *tx) GetResourceServer(ctx context.Context, realmID, id string) (oauth.ResourceServer, error) {
	var v oauth.ResourceServer
	err := scanResourceServer(t.r.QueryRowContext(ctx,
		`SELECT `+resourceServerColumns+` FROM resource_servers WHERE id = $1 AND realm_id = $2`, id, realmID), &v)
	return v, notFoundIfNoRows(err)
}

var resourceServerFilter = map[string]column{"id": {name: "id"}, "display_name": {name: "display_name"}, "identifier": {name: "identifier"}}

func (t *tx) ListResourceServers(ctx context.Context, realmID string, opts latchkey.ListOptions) ([]oauth.ResourceServer, int, error) {
	q := listQuery{columns: resourceServerColumns, from: "resource_servers", key: "id", filter: resourceServerFilter}
	q.conds = []string{"realm_id = " + q.args.add(realmID)}
	return listOf(ctx, t, q, opts, nil, scanResourceServer)
}

func (t *tx) UpdateResourceServer(ctx context.Context, v oauth.ResourceServer) error {
	scopes, _ := json.Marshal(v.Scopes)
	return affected(t.exec(ctx, latchkey.ErrNoParent,
		`UPDATE resource_servers SET display_name = $1, scopes = $2, update_time = $3 WHERE id = $4 AND realm_id = $5`,
		v.DisplayName, string(scopes), micros(v.UpdateTime), v.ID, v.RealmID))
}

func (t *tx) DeleteResourceServer(ctx context.Context, realmID, id string) error {
	return affected(t.exec(ctx, latchkey.ErrInUse, `DELETE FROM resource_servers WHERE id = $1 AND realm_id = $2`, id, realmID))
}

const applicationColumns = `id, realm_id, tenant_id, resource_server_id, authenticator_config_id, display_name, is_managed,
	classification, client_secret_sealed, protocol_config, create_time, update_time`

func scanApplication(s interface{ Scan(...any) error }, v *oauth.Application, sealed *string) error {
	var rs sql.NullString
	var config string
	var ct, ut int64
	if err := s.Scan(&v.ID, &v.RealmID, &v.TenantID, &rs, &v.AuthenticatorConfigID, &v.DisplayName, &v.IsManaged,
		&v.Classification, sealed, &config, &ct, &ut); err != nil {
		return err
	}
	v.ResourceServerID = rs.String
	v.CreateTime, v.UpdateTime = fromMicros(ct), fromMicros(ut)
	return json.Unmarshal([]byte(config), &v.ProtocolConfig)
}

// applicationRow is the stored form of an application: its protocol
// config without the secret, which is kept sealed on its own.
func applicationRow(v oauth.Application) (rs any, config string) {
	pc := v.ProtocolConfig
	pc.ClientSecret = ""
	b, _ := json.Marshal(pc)
	if v.ResourceServerID != "" {
		rs = v.ResourceServerID
	}
	return rs, string(b)
}

func (t *tx) CreateApplication(ctx context.Context, v oauth.Application, secretSealed string) error {
	rs, config := applicationRow(v)
	_, err := t.exec(ctx, latchkey.ErrNoParent, `INSERT INTO applications (`+applicationColumns+`, client_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		v.ID, v.RealmID, v.TenantID, rs, v.AuthenticatorConfigID, v.DisplayName, v.IsManaged, v.Classification,
		secretSealed, config, micros(v.CreateTime), micros(v.UpdateTime), v.ProtocolConfig.ClientID)
	return err
}

func (t *tx) GetApplication(ctx context.Context, realmID, id string) (oauth.Application, string, error) {
	var v oauth.Application
	var sealed string
	err := scanApplication(t.r.QueryRowContext(ctx,
		`SELECT `+applicationColumns+` FROM applications WHERE id = $1 AND realm_id = $2`, id, realmID), &v, &sealed)
	return v, sealed, notFoundIfNoRows(err)
}

func (t *tx) ApplicationIDByClientID(ctx context.Context, realmID, clientID string) (string, error) {
	var id string
	err := t.r.QueryRowContext(ctx, `SELECT id FROM applications WHERE client_id = $1 AND realm_id = $2`, clientID, realmID).Scan(&id)
	return id, notFoundIfNoRows(err)
}

func (t *tx) ApplicationExists(ctx context.Context, realmID, id string) error {
	var one int
	err := t.r.QueryRowContext(ctx, `SELECT 1 FROM applications WHERE id = $1 AND realm_id = $2`, id, realmID).Scan(&one)
	return notFoundIfNoRows(err)
}

var applicationFilter = map[string]column{"id": {name: "id"}, "display_name": {name: "display_name"}}

func (t *tx) ListApplications(ctx context.Context, realmID string, opts latchkey.ListOptions) ([]oauth.Application, []string, int, error) {
	q := listQuery{columns: applicationColumns, from: "applications", key: "id", filter: applicationFilter}
	q.conds = []string{"realm_id = " + q.args.add(realmID)}
	var out []oauth.Application
	var sealed []string
	total, err := t.list(ctx, q, opts, func(rows *sql.Rows) error {
		var v oauth.Application
		var s string
		err := scanApplication(rows, &v, &s)
		out, sealed = append(out, v), append(sealed, s)
		return err
	})
	return out, sealed, total, err
}

func (t *tx) UpdateApplication(ctx context.Context, v oauth.Application, secretSealed string) error {
	rs, config := applicationRow(v)
	return affected(t.exec(ctx, latchkey.ErrNoParent, `UPDATE applications SET resource_server_id = $1,
		authenticator_config_id = $2, display_name = $3, protocol_config = $4, client_secret_sealed = $5, update_time = $6
		WHERE id = $7 AND realm_id = $8`,
		rs, v.AuthenticatorConfigID, v.DisplayName, config, secretSealed, micros(v.UpdateTime), v.ID, v.RealmID))
}

func (t *tx) RemoveScopesFromApplications(ctx context.Context, resourceServerID string, scopes []string) ([]string, error) {
	if len(scopes) == 0 {
		return nil, nil
	}
	// The allowed scopes live inside the protocol_config JSON: read the
	// resource server's applications, then write back those that change.
	rows, err := t.w.QueryContext(ctx, `SELECT id, protocol_config FROM applications WHERE resource_server_id = $1`, resourceServerID)
	if err != nil {
		return nil, err
	}
	changed := map[string]oauth.ProtocolConfig{}
	for rows.Next() {
		var id, config string
		var pc oauth.ProtocolConfig
		if err := rows.Scan(&id, &config); err != nil {
			rows.Close()
			return nil, err
		}
		if err := json.Unmarshal([]byte(config), &pc); err != nil {
			rows.Close()
			return nil, err
		}
		kept := slices.DeleteFunc(slices.Clone(pc.AllowedScopes), func(sc string) bool { return slices.Contains(scopes, sc) })
		if len(kept) != len(pc.AllowedScopes) {
			pc.AllowedScopes = kept
			changed[id] = pc
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	ids := slices.Sorted(maps.Keys(changed))
	for _, id := range ids {
		config, _ := json.Marshal(changed[id])
		if _, err := t.exec(ctx, latchkey.ErrNoParent, `UPDATE applications SET protocol_config = $1 WHERE id = $2`, string(config), id); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

func (t *tx) DeleteApplication(ctx context.Context, realmID, id string) error {
	return affected(t.exec(ctx, latchkey.ErrInUse, `DELETE FROM applications WHERE id = $1 AND realm_id = $2`, id, realmID))
}

const tokenColumns = `id, tenant_id, realm_id, application_id, principal_type, principal_id, display_name, scopes,
	token_suffix, token_format, token_type, issued_at, expires, claims, family_id`

func scanToken(s interface{ Scan(...any) error }, v *oauth.Token) error {
	var scopes string
	err := s.Scan(&v.ID, &v.TenantID, &v.RealmID, &v.ApplicationID, &v.PrincipalType, &v.PrincipalID, &v.DisplayName,
		&scopes, &v.TokenSuffix, &v.TokenFormat, &v.TokenType, &v.IssuedAt, &v.Expires, &v.Claims, &v.FamilyID)
	v.Scopes = strings.Fields(scopes)
	return err
}

// createTokens inserts token records, in one statement up to insertBatch.
func (t *tx) createTokens(ctx context.Context, vs []oauth.Token) error {
	rows := make([][]any, len(vs))
	for i, v := range vs {
		rows[i] = []any{v.ID, v.TenantID, v.RealmID, v.ApplicationID, v.PrincipalType, v.PrincipalID, v.DisplayName,
			strings.Join(v.Scopes, " "), v.TokenSuffix, v.TokenFormat, v.TokenType, v.IssuedAt, v.Expires, v.Claims, v.FamilyID}
	}
	return t.insert(ctx, latchkey.ErrNoParent, `INSERT INTO tokens (`+tokenColumns+`)`, rows, "")
}

func (t *tx) GetToken(ctx context.Context, id string) (oauth.Token, error) {
	var v oauth.Token
	err := scanToken(t.r.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE id = $1`, id), &v)
	return v, notFoundIfNoRows(err)
}

func (t *tx) ListTokens(ctx context.Context, applicationID string, f oauth.TokenFilter, opts latchkey.ListOptions) ([]oauth.Token, int, error) {
	q := listQuery{columns: tokenColumns, from: "tokens", key: "id"}
	q.conds = []string{"application_id = " + q.args.add(applicationID)}
	if f.PrincipalType != "" {
		q.conds = append(q.conds, "principal_type = "+q.args.add(f.PrincipalType))
	}
	if f.PrincipalID != "" {
		q.conds = append(q.conds, "principal_id = "+q.args.add(f.PrincipalID))
	}
	return listOf(ctx, t, q, opts, nil, scanToken)
}

func (t *tx) DeleteToken(ctx context.Context, applicationID, id string) error {
	return affected(t.exec(ctx, latchkey.ErrInUse, `DELETE FROM tokens WHERE id = $1 AND application_id = $2`, id, applicationID))
}

func (t *tx) DeleteExpiredTokens(ctx context.Context, before time.Time) (int, error) {
	res, err := t.exec(ctx, latchkey.ErrInUse, `DELETE FROM tokens WHERE expires < $1`, before.Unix())
	if err != nil {
		return 0, err
	}
	if _, err := t.exec(ctx, latchkey.ErrInUse, `DELETE FROM grant_families WHERE expire_time < $1`, micros(before)); err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func (t *tx) CreateSigningKey(ctx context.Context, k oauth.SigningKey) error {
	_, err := t.exec(ctx, latchkey.ErrNoParent,
		`INSERT INTO signing_keys (id, algorithm, private_key_sealed, create_time) VALUES ($1, $2, $3, $4)`,
		k.ID, k.Algorithm, k.PrivateKeySealed, micros(k.CreateTime))
	return err
}

func (t *tx) DeleteSigningKey(ctx context.Context, id string) error {
	return affected(t.exec(ctx, latchkey.ErrInUse, `DELETE FROM signing_keys WHERE id = $1`, id))
}

func (t *tx) ListSigningKeys(ctx context.Context) ([]oauth.SigningKey, error) {
	rows, err := t.r.QueryContext(ctx, `SELECT id, algorithm, private_key_sealed, create_time FROM signing_keys ORDER BY create_time`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []oauth.SigningKey
	for rows.Next() {
		var k oauth.SigningKey
		var ct int64
		if err := rows.Scan(&k.ID, &k.Algorithm, &k.PrivateKeySealed, &ct); err != nil {
			return nil, err
		}
		k.CreateTime = fromMicros(ct)
		out = append(out, k)
	}
	return out, rows.Err()
}
