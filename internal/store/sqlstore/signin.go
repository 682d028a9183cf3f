package sqlstore

import (
	"context"
	"encoding/json"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/oauth"
)

const authRequestColumns = `id, tenant_id, realm_id, application_id, params, challenge, identity_id, credential_id,
	auth_time, code_hash, code_used, token_ids, create_time, expire_time`

func scanAuthRequest(s interface{ Scan(...any) error }, r *oauth.AuthRequest) error {
	var params, tokens string
	var at, ct, et int64
	if err := s.Scan(&r.ID, &r.TenantID, &r.RealmID, &r.ApplicationID, &params, &r.Challenge, &r.IdentityID,
		&r.CredentialID, &at, &r.CodeHash, &r.CodeUsed, &tokens, &ct, &et); err != nil {
		return err
	}
	r.AuthTime, r.CreateTime, r.ExpireTime = fromMicros(at), fromMicros(ct), fromMicros(et)
	if err := json.Unmarshal([]byte(tokens), &r.TokenIDs); err != nil {
		return err
	}
	return json.Unmarshal([]byte(params), &r.Params)
}

func (t *tx) CreateAuthRequest(ctx context.Context, r oauth.AuthRequest) error {
	params, _ := json.Marshal(r.Params)
	_, err := t.exec(ctx, latchkey.ErrNoParent, `INSERT INTO auth_requests (`+authRequestColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, '', '', 0, '', FALSE, '[]', $7, $8)`,
		r.ID, r.TenantID, r.RealmID, r.ApplicationID, string(params), r.Challenge, micros(r.CreateTime), micros(r.ExpireTime))
	return err
}

func (t *tx) GetAuthRequest(ctx context.Context, id string) (oauth.AuthRequest, error) {
	var r oauth.AuthRequest
	err := scanAuthRequest(t.r.QueryRowContext(ctx, `SELECT `+authRequestColumns+` FROM auth_requests WHERE id = $1`, id), &r)
	return r, notFoundIfNoRows(err)
}

func (t *tx) GetAuthRequestByCode(ctx context.Context, codeHash string) (oauth.AuthRequest, error) {
	var r oauth.AuthRequest
	err := scanAuthRequest(t.r.QueryRowContext(ctx, `SELECT `+authRequestColumns+` FROM auth_requests
		WHERE code_hash = $1 AND code_hash <> ''`, codeHash), &r)
	return r, notFoundIfNoRows(err)
}

func (t *tx) FinishAuthRequest(ctx context.Context, r oauth.AuthRequest) error {
	return affected(t.exec(ctx, latchkey.ErrNoParent, `UPDATE auth_requests SET identity_id = $1, credential_id = $2,
		auth_time = $3, code_hash = $4, expire_time = $5 WHERE id = $6 AND identity_id = ''`,
		r.IdentityID, r.CredentialID, micros(r.AuthTime), r.CodeHash, micros(r.ExpireTime), r.ID))
}

func (t *tx) UseCode(ctx context.Context, id string) error {
	return affected(t.exec(ctx, latchkey.ErrNoParent, `UPDATE auth_requests SET code_used = TRUE WHERE id = $1 AND NOT code_used`, id))
}

func (t *tx) SetAuthRequestTokens(ctx context.Context, id string, tokenIDs []string) error {
	b, _ := json.Marshal(tokenIDs)
	_, err := t.exec(ctx, latchkey.ErrNoParent, `UPDATE auth_requests SET token_ids = $1 WHERE id = $2`, string(b), id)
	return err
}
