package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/oauth"
)

func (t *tx) CreateResourceServer(ctx context.Context, v oauth.ResourceServer) error {
	scopes, _ := json.Marshal(v.Scopes)
	_, err := t.exec(ctx, latchkey.ErrNoParent,
		`INSERT INTO resource_servers (id, realm_id, tenant_id, display_name, is_managed, identifier, scopes, create_time, update_time)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		v.ID, v.RealmID, v.TenantID, v.DisplayName, v.IsManaged, v.Identifier, string(scopes), micros(v.CreateTime), micros(v.UpdateTime))
	return err
}

func (t *tx) GetResourceServer(ctx context.Context, realmID, id string) (oauth.ResourceServer, error) {
	var v oauth.ResourceServer
	var scopes string
	var ct, ut int64
	err := one(t.r.QueryRowContext(ctx,
		`SELECT id, realm_id, tenant_id, display_name, is_managed, identifier, scopes, create_time, update_time
		 FROM resource_servers WHERE id = $1 AND realm_id = $2`, id, realmID),
		&v.ID, &v.RealmID, &v.TenantID, &v.DisplayName, &v.IsManaged, &v.Identifier, &scopes, &ct, &ut)
	if err != nil {
		return v, err
	}
	v.CreateTime, v.UpdateTime = fromMicros(ct), fromMicros(ut)
	return v, json.Unmarshal([]byte(scopes), &v.Scopes)
}

func (t *tx) CreateApplication(ctx context.Context, v oauth.Application, secretSealed string) error {
	pc := v.ProtocolConfig
	pc.ClientSecret = ""
	config, _ := json.Marshal(pc)
	var rs any
	if v.ResourceServerID != "" {
		rs = v.ResourceServerID
	}
	_, err := t.exec(ctx, latchkey.ErrNoParent,
		`INSERT INTO applications (id, realm_id, tenant_id, resource_server_id, display_name, is_managed, classification,
		 client_id, client_secret_sealed, protocol_config, create_time, update_time)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		v.ID, v.RealmID, v.TenantID, rs, v.DisplayName, v.IsManaged, v.Classification,
		pc.ClientID, secretSealed, string(config), micros(v.CreateTime), micros(v.UpdateTime))
	return err
}

func (t *tx) GetApplication(ctx context.Context, realmID, id string) (oauth.Application, string, error) {
	var v oauth.Application
	var rs sql.NullString
	var config, sealed string
	var ct, ut int64
	err := one(t.r.QueryRowContext(ctx,
		`SELECT id, realm_id, tenant_id, resource_server_id, display_name, is_managed, classification,
		 client_secret_sealed, protocol_config, create_time, update_time FROM applications WHERE id = $1 AND realm_id = $2`, id, realmID),
		&v.ID, &v.RealmID, &v.TenantID, &rs, &v.DisplayName, &v.IsManaged, &v.Classification, &sealed, &config, &ct, &ut)
	if err != nil {
		return v, "", err
	}
	v.ResourceServerID = rs.String
	v.CreateTime, v.UpdateTime = fromMicros(ct), fromMicros(ut)
	return v, sealed, json.Unmarshal([]byte(config), &v.ProtocolConfig)
}

const tokenColumns = `id, tenant_id, realm_id, application_id, principal_type, principal_id, display_name, scopes,
	token_suffix, token_format, token_type, issued_at, expires`

func scanToken(s interface{ Scan(...any) error }, v *oauth.Token) error {
	var scopes string
	err := s.Scan(&v.ID, &v.TenantID, &v.RealmID, &v.ApplicationID, &v.PrincipalType, &v.PrincipalID, &v.DisplayName,
		&scopes, &v.TokenSuffix, &v.TokenFormat, &v.TokenType, &v.IssuedAt, &v.Expires)
	v.Scopes = strings.Fields(scopes)
	return err
}

func (t *tx) CreateToken(ctx context.Context, v oauth.Token) error {
	_, err := t.exec(ctx, latchkey.ErrNoParent, `INSERT INTO tokens (`+tokenColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		v.ID, v.TenantID, v.RealmID, v.ApplicationID, v.PrincipalType, v.PrincipalID, v.DisplayName,
		strings.Join(v.Scopes, " "), v.TokenSuffix, v.TokenFormat, v.TokenType, v.IssuedAt, v.Expires)
	return err
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
	var out []oauth.Token
	total, err := t.list(ctx, q, opts, func(rows *sql.Rows) error {
		var v oauth.Token
		err := scanToken(rows, &v)
		out = append(out, v)
		return err
	})
	return out, total, err
}

func (t *tx) DeleteToken(ctx context.Context, applicationID, id string) error {
	return affected(t.exec(ctx, latchkey.ErrInUse, `DELETE FROM tokens WHERE id = $1 AND application_id = $2`, id, applicationID))
}

func (t *tx) DeleteExpiredTokens(ctx context.Context, before time.Time) (int, error) {
	res, err := t.exec(ctx, latchkey.ErrInUse, `DELETE FROM tokens WHERE expires < $1`, before.Unix())
	if err != nil {
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
