package sqlstore

import (
	"context"
	"encoding/base64"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/saml"
)

const samlCertificateColumns = `id, tenant_id, realm_id, certificate, private_key_sealed, activate_time, create_time`

func (t *tx) ListSAMLCertificates(ctx context.Context, tenantID, realmID string) ([]saml.Certificate, error) {
	rows, err := t.r.QueryContext(ctx, `SELECT `+samlCertificateColumns+` FROM saml_certificates
		WHERE tenant_id = $1 AND realm_id = $2 ORDER BY activate_time, id`, tenantID, realmID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []saml.Certificate
	for rows.Next() {
		var c saml.Certificate
		var der string
		var at, ct int64
		if err := rows.Scan(&c.ID, &c.TenantID, &c.RealmID, &der, &c.PrivateKeySealed, &at, &ct); err != nil {
			return nil, err
		}
		if c.DER, err = base64.StdEncoding.DecodeString(der); err != nil {
			return nil, err
		}
		c.ActivateTime, c.CreateTime = fromMicros(at), fromMicros(ct)
		out = append(out, c)
	}
	return out, rows.Err()
}

func (t *tx) CreateSAMLCertificate(ctx context.Context, c saml.Certificate) error {
	_, err := t.exec(ctx, latchkey.ErrNoParent, `INSERT INTO saml_certificates (`+samlCertificateColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, c.ID, c.TenantID, c.RealmID, base64.StdEncoding.EncodeToString(c.DER),
		c.PrivateKeySealed, micros(c.ActivateTime), micros(c.CreateTime))
	return err
}

func (t *tx) DeleteSAMLCertificate(ctx context.Context, tenantID, realmID, id string) error {
	return affected(t.exec(ctx, latchkey.ErrInUse, `DELETE FROM saml_certificates WHERE id = $1 AND tenant_id = $2 AND realm_id = $3`,
		id, tenantID, realmID))
}

const samlRequestColumns = `id, tenant_id, realm_id, config_id, request_id, acs_url, relay_state, challenge, force_authn, spent, create_time, expire_time`

// SaveSAMLRequest stores a request and the event of the Response that
// answers it at once (or nil) in one transaction with those that concurrent
// sign-ins save (a replayed request fails the batch, then each is saved
// alone and only the replay is refused). (Inside Update the transaction's
// own SaveSAMLRequest is used.)
func (s *Store) SaveSAMLRequest(ctx context.Context, r saml.Request, e *audit.Event) error {
	return saveTogether(ctx, s, &s.samlRequests, insertSAMLRequests, r, e, samlRequestRow)
}

func (t *tx) SaveSAMLRequest(ctx context.Context, r saml.Request, e *audit.Event) error {
	return first(insertWithEvents(ctx, t, insertSAMLRequests, []withEvent[saml.Request]{{r, e}}, samlRequestRow))
}

const insertSAMLRequests = `INSERT INTO saml_requests (` + samlRequestColumns + `)`

// samlRequestRow is r's row of samlRequestColumns.
func samlRequestRow(r saml.Request) []any {
	return []any{r.ID, r.TenantID, r.RealmID, r.ConfigID, r.RequestID, r.ACSURL, r.RelayState, r.Challenge,
		boolInt(r.ForceAuthn), boolInt(r.Spent), micros(r.CreateTime), micros(r.ExpireTime)}
}

func (t *tx) GetSAMLRequest(ctx context.Context, tenantID, realmID, id string) (saml.Request, error) {
	var r saml.Request
	var force, spent, ct, et int64
	err := t.r.QueryRowContext(ctx, `SELECT `+samlRequestColumns+` FROM saml_requests
		WHERE id = $1 AND tenant_id = $2 AND realm_id = $3`, id, tenantID, realmID).Scan(
		&r.ID, &r.TenantID, &r.RealmID, &r.ConfigID, &r.RequestID, &r.ACSURL, &r.RelayState, &r.Challenge,
		&force, &spent, &ct, &et)
	r.ForceAuthn, r.Spent, r.CreateTime, r.ExpireTime = force == 1, spent == 1, fromMicros(ct), fromMicros(et)
	return r, notFoundIfNoRows(err)
}

func (t *tx) SpendSAMLRequest(ctx context.Context, id string, at time.Time) error {
	return affected(t.exec(ctx, nil, `UPDATE saml_requests SET spent = 1 WHERE id = $1 AND spent = 0 AND expire_time > $2`,
		id, micros(at)))
}

func (t *tx) DeleteExpiredSAMLRequests(ctx context.Context, before time.Time) (int, error) {
	res, err := t.exec(ctx, nil, `DELETE FROM saml_requests WHERE expire_time < $1`, micros(before))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
