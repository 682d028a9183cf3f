package sqlstore

import (
	"context"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/upstream"
)

const upstreamColumns = `id, tenant_id, realm_id, kind, provider_id, nonce, code_verifier, browser_hash,
	application_id, request_id, identity_id, job_id, link_token, create_time, expire_time`

func (t *tx) CreateUpstreamAuthorization(ctx context.Context, a upstream.Authorization) error {
	_, err := t.exec(ctx, latchkey.ErrNoParent, `INSERT INTO upstream_authorizations (`+upstreamColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		a.ID, a.TenantID, a.RealmID, a.Kind, a.ProviderID, a.Nonce, a.Verifier, a.BrowserHash,
		a.ApplicationID, a.RequestID, a.IdentityID, a.JobID, a.LinkTokenSealed, micros(a.CreateTime), micros(a.ExpireTime))
	return err
}

// TakeUpstreamAuthorization deletes the row as it reads it: of two
// callbacks with the same state, one gets it.
func (t *tx) TakeUpstreamAuthorization(ctx context.Context, tenantID, realmID, id string, now time.Time) (upstream.Authorization, error) {
	var a upstream.Authorization
	var ct, et int64
	err := one(t.w.QueryRowContext(ctx, `DELETE FROM upstream_authorizations
		WHERE id = $1 AND tenant_id = $2 AND realm_id = $3 AND expire_time > $4 RETURNING `+upstreamColumns,
		id, tenantID, realmID, micros(now)),
		&a.ID, &a.TenantID, &a.RealmID, &a.Kind, &a.ProviderID, &a.Nonce, &a.Verifier, &a.BrowserHash,
		&a.ApplicationID, &a.RequestID, &a.IdentityID, &a.JobID, &a.LinkTokenSealed, &ct, &et)
	a.CreateTime, a.ExpireTime = fromMicros(ct), fromMicros(et)
	return a, err
}

func (t *tx) DeleteExpiredUpstreamAuthorizations(ctx context.Context, before time.Time) (int, error) {
	res, err := t.exec(ctx, nil, `DELETE FROM upstream_authorizations WHERE expire_time <= $1`, micros(before))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
