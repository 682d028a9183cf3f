package sqlstore

import (
	"context"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/otp"
)

func (t *tx) PutEmailCode(ctx context.Context, c otp.Code) error {
	_, err := t.exec(ctx, latchkey.ErrNoParent, `INSERT INTO email_codes
		(realm_id, address_key, tenant_id, identity_id, code_hash, attempts, create_time, expire_time)
		VALUES ($1, $2, $3, $4, $5, 0, $6, $7) ON CONFLICT (realm_id, address_key) DO UPDATE SET
		tenant_id = excluded.tenant_id, identity_id = excluded.identity_id, code_hash = excluded.code_hash,
		attempts = 0, create_time = excluded.create_time, expire_time = excluded.expire_time`,
		c.RealmID, c.Address, c.TenantID, c.IdentityID, c.Hash, micros(c.CreateTime), micros(c.ExpireTime))
	return err
}

func (t *tx) GetEmailCode(ctx context.Context, realmID, address string) (otp.Code, error) {
	c := otp.Code{RealmID: realmID, Address: address}
	var ct, et int64
	err := one(t.r.QueryRowContext(ctx, `SELECT tenant_id, identity_id, code_hash, attempts, create_time, expire_time
		FROM email_codes WHERE realm_id = $1 AND address_key = $2`, realmID, address),
		&c.TenantID, &c.IdentityID, &c.Hash, &c.Tries, &ct, &et)
	c.CreateTime, c.ExpireTime = fromMicros(ct), fromMicros(et)
	return c, err
}

func (t *tx) TryEmailCode(ctx context.Context, realmID, address, hash string, max int) error {
	res, err := t.exec(ctx, nil, `UPDATE email_codes SET attempts = attempts + 1
		WHERE realm_id = $1 AND address_key = $2 AND code_hash = $3 AND attempts < $4`, realmID, address, hash, max)
	return affected(res, err)
}

func (t *tx) DeleteEmailCode(ctx context.Context, realmID, address, hash string) error {
	res, err := t.exec(ctx, nil, `DELETE FROM email_codes WHERE realm_id = $1 AND address_key = $2 AND code_hash = $3`,
		realmID, address, hash)
	return affected(res, err)
}

// CountEmailCodeRequest keeps one row per key: a window that has ended
// starts again at the window now falls in.
func (t *tx) CountEmailCodeRequest(ctx context.Context, key string, now time.Time, window time.Duration) (int, error) {
	start := micros(now) - micros(now)%window.Microseconds()
	var n int
	err := one(t.w.QueryRowContext(ctx, `INSERT INTO email_code_limits (key, window_start, n) VALUES ($1, $2, 1)
		ON CONFLICT (key) DO UPDATE SET
		n = CASE WHEN email_code_limits.window_start = excluded.window_start THEN email_code_limits.n + 1 ELSE 1 END,
		window_start = excluded.window_start
		RETURNING n`, key, start), &n)
	return n, err
}

func (t *tx) DeleteExpiredEmailCodes(ctx context.Context, now, windowsBefore time.Time) (int, error) {
	res, err := t.exec(ctx, nil, `DELETE FROM email_codes WHERE expire_time <= $1`, micros(now))
	if err != nil {
		return 0, err
	}
	codes, _ := res.RowsAffected()
	if res, err = t.exec(ctx, nil, `DELETE FROM email_code_limits WHERE window_start < $1`, micros(windowsBefore)); err != nil {
		return 0, err
	}
	limits, _ := res.RowsAffected()
	return int(codes + limits), nil
}
