package sqlstore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/passkey"
)

const configColumns = "id, realm_id, tenant_id, display_name, config, create_time, update_time"

var configFilter = map[string]column{
	"id":           {name: "id"},
	"display_name": {name: "display_name"},
	"config.type":  {name: "config", kind: trait, key: "type"},
}

func scanConfig(s interface{ Scan(...any) error }, v *passkey.AuthenticatorConfig) error {
	var config string
	var ct, ut int64
	if err := s.Scan(&v.ID, &v.RealmID, &v.TenantID, &v.DisplayName, &config, &ct, &ut); err != nil {
		return err
	}
	v.CreateTime, v.UpdateTime = fromMicros(ct), fromMicros(ut)
	return json.Unmarshal([]byte(config), &v.Config)
}

func (t *tx) CreateAuthenticatorConfig(ctx context.Context, v passkey.AuthenticatorConfig) error {
	config, _ := json.Marshal(v.Config)
	_, err := t.exec(ctx, latchkey.ErrNoParent, `INSERT INTO authenticator_configs (`+configColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		v.ID, v.RealmID, v.TenantID, v.DisplayName, string(config), micros(v.CreateTime), micros(v.UpdateTime))
	return err
}

func (t *tx) GetAuthenticatorConfig(ctx context.Context, realmID, id string) (passkey.AuthenticatorConfig, error) {
	return t.getConfig(ctx, realmID, id, "")
}

// ReferenceAuthenticatorConfig holds the config FOR KEY SHARE, as a foreign
// key check would: concurrent references go ahead, a delete waits for them.
func (t *tx) ReferenceAuthenticatorConfig(ctx context.Context, realmID, id string) (passkey.AuthenticatorConfig, error) {
	return t.getConfig(ctx, realmID, id, " FOR KEY SHARE")
}

// LockAuthenticatorConfig holds the config FOR UPDATE, so that references
// made meanwhile wait and then find it gone.
func (t *tx) LockAuthenticatorConfig(ctx context.Context, realmID, id string) (passkey.AuthenticatorConfig, error) {
	return t.getConfig(ctx, realmID, id, " FOR UPDATE")
}

// getConfig reads a config, with lock on PostgreSQL (SQLite's one writer
// already serialises transactions). A lock needs the writer; outside a
// transaction plain reads stay off it.
func (t *tx) getConfig(ctx context.Context, realmID, id, lock string) (passkey.AuthenticatorConfig, error) {
	q := t.r
	if lock != "" {
		q = t.w
	}
	if t.d.Name != "postgres" {
		lock = ""
	}
	var v passkey.AuthenticatorConfig
	err := scanConfig(q.QueryRowContext(ctx,
		`SELECT `+configColumns+` FROM authenticator_configs WHERE id = $1 AND realm_id = $2`+lock, id, realmID), &v)
	return v, notFoundIfNoRows(err)
}

func (t *tx) ListAuthenticatorConfigs(ctx context.Context, realmID string, opts latchkey.ListOptions) ([]passkey.AuthenticatorConfig, int, error) {
	q := listQuery{columns: configColumns, from: "authenticator_configs", key: "id", filter: configFilter}
	q.conds = []string{"realm_id = " + q.args.add(realmID)}
	return listOf(ctx, t, q, opts, nil, scanConfig)
}

func (t *tx) UpdateAuthenticatorConfig(ctx context.Context, v passkey.AuthenticatorConfig) error {
	config, _ := json.Marshal(v.Config)
	return affected(t.exec(ctx, latchkey.ErrNoParent,
		`UPDATE authenticator_configs SET display_name = $1, config = $2, update_time = $3 WHERE id = $4 AND realm_id = $5`,
		v.DisplayName, string(config), micros(v.UpdateTime), v.ID, v.RealmID))
}

func (t *tx) DeleteAuthenticatorConfig(ctx context.Context, realmID, id string) error {
	return affected(t.exec(ctx, latchkey.ErrInUse, `DELETE FROM authenticator_configs WHERE id = $1 AND realm_id = $2`, id, realmID))
}

func (t *tx) AuthenticatorConfigInUse(ctx context.Context, id string) (bool, error) {
	var a args
	var n int
	// A running batch will make jobs of its template's config.
	err := t.r.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM credential_binding_jobs WHERE authenticator_config_id = `+
		a.add(id)+` AND state IN `+a.in(passkey.OpenStates)+`) + (SELECT count(*) FROM applications WHERE authenticator_config_id = $1)
		+ (SELECT count(*) FROM batch_credential_binding_jobs WHERE state = `+a.add(passkey.BatchRunning)+
		` AND `+t.d.JSONText("job_template", "authenticator_config_id")+` = $1)`,
		a...).Scan(&n)
	return n > 0, err
}

const jobColumns = `id, identity_id, realm_id, tenant_id, credential_id, batch_id, delivery_method, state,
	post_binding_redirect_uri, authenticator_config_id, authenticator_config, token_hash, expire_time, create_time, update_time,
	verification, verify_time`

var jobFilter = map[string]column{
	"id":                      {name: "id"},
	"identity_id":             {name: "identity_id"},
	"state":                   {name: "state"},
	"delivery_method":         {name: "delivery_method"},
	"authenticator_config_id": {name: "authenticator_config_id"},
	"batch_id":                {name: "batch_id"},
}

func scanJob(s interface{ Scan(...any) error }, v *passkey.BindingJob) error {
	var inline, verification string
	var et, ct, ut, vt int64
	if err := s.Scan(&v.ID, &v.IdentityID, &v.RealmID, &v.TenantID, &v.CredentialID, &v.BatchID, &v.DeliveryMethod,
		&v.State, &v.PostBindingRedirectURI, &v.AuthenticatorConfigID, &inline, &v.TokenHash, &et, &ct, &ut,
		&verification, &vt); err != nil {
		return err
	}
	v.ExpireTime, v.CreateTime, v.UpdateTime = fromMicros(et), fromMicros(ct), fromMicros(ut)
	if vt != 0 {
		at := fromMicros(vt)
		v.VerifyTime = &at
	}
	if verification != "" {
		v.VerificationDetails = new(passkey.VerificationDetails)
		if err := json.Unmarshal([]byte(verification), v.VerificationDetails); err != nil {
			return err
		}
	}
	if inline == "" {
		return nil
	}
	v.AuthenticatorConfig = new(passkey.InlineConfig)
	return json.Unmarshal([]byte(inline), v.AuthenticatorConfig)
}

func (t *tx) CreateBindingJob(ctx context.Context, v passkey.BindingJob) error {
	var inline string
	if v.AuthenticatorConfig != nil {
		b, _ := json.Marshal(v.AuthenticatorConfig)
		inline = string(b)
	}
	var verification string
	if v.VerificationDetails != nil {
		b, _ := json.Marshal(v.VerificationDetails)
		verification = string(b)
	}
	var verified int64
	if v.VerifyTime != nil {
		verified = micros(*v.VerifyTime)
	}
	_, err := t.exec(ctx, latchkey.ErrNoParent, `INSERT INTO credential_binding_jobs (`+jobColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
		v.ID, v.IdentityID, v.RealmID, v.TenantID, v.CredentialID, v.BatchID, v.DeliveryMethod, v.State,
		v.PostBindingRedirectURI, v.AuthenticatorConfigID, inline, v.TokenHash,
		micros(v.ExpireTime), micros(v.CreateTime), micros(v.UpdateTime), verification, verified)
	return err
}

func (t *tx) SetBindingJobVerified(ctx context.Context, id string, at time.Time) error {
	return affected(t.exec(ctx, nil, `UPDATE credential_binding_jobs SET verify_time = $1, update_time = $1 WHERE id = $2`, micros(at), id))
}

func (t *tx) IdentityProviderName(ctx context.Context, tenantID, realmID, id string) (string, error) {
	var name string
	err := one(t.r.QueryRowContext(ctx, `SELECT display_name FROM identity_providers WHERE id = $1 AND tenant_id = $2 AND realm_id = $3`,
		id, tenantID, realmID), &name)
	return name, err
}

// ofIdentity adds the condition on the owning identity unless identityID
// is passkey.AnyIdentity.
func ofIdentity(a *args, conds []string, identityID string) []string {
	if identityID == passkey.AnyIdentity {
		return conds
	}
	return append(conds, "identity_id = "+a.add(identityID))
}

func (t *tx) GetBindingJob(ctx context.Context, realmID, identityID, id string) (passkey.BindingJob, error) {
	var v passkey.BindingJob
	var a args
	conds := ofIdentity(&a, []string{"id = " + a.add(id), "realm_id = " + a.add(realmID)}, identityID)
	err := scanJob(t.r.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM credential_binding_jobs WHERE `+and(conds), a...), &v)
	return v, notFoundIfNoRows(err)
}

func (t *tx) ListBindingJobs(ctx context.Context, realmID, identityID string, opts latchkey.ListOptions) ([]passkey.BindingJob, int, error) {
	q := listQuery{columns: jobColumns, from: "credential_binding_jobs", key: "id", filter: jobFilter}
	q.conds = ofIdentity(&q.args, []string{"realm_id = " + q.args.add(realmID)}, identityID)
	return listOf(ctx, t, q, opts, nil, scanJob)
}

func (t *tx) SetBindingJobState(ctx context.Context, id string, from []string, state string, now time.Time) error {
	var a args
	return affected(t.exec(ctx, latchkey.ErrNoParent, `UPDATE credential_binding_jobs SET state = `+a.add(state)+
		`, update_time = `+a.add(micros(now))+` WHERE id = `+a.add(id)+` AND state IN `+a.in(from), a...))
}

func (t *tx) CompleteBindingJob(ctx context.Context, id string, from []string, credentialID string, now time.Time) error {
	var a args
	return affected(t.exec(ctx, latchkey.ErrNoParent, `UPDATE credential_binding_jobs SET state = `+a.add(passkey.Complete)+
		`, credential_id = `+a.add(credentialID)+`, update_time = `+a.add(micros(now))+
		` WHERE id = `+a.add(id)+` AND state IN `+a.in(from)+` AND expire_time > `+a.add(micros(now)), a...))
}

func (t *tx) ExpireBindingJobs(ctx context.Context, now time.Time) ([]string, error) {
	var a args
	rows, err := t.w.QueryContext(ctx, `UPDATE credential_binding_jobs SET state = `+a.add(passkey.Expired)+
		`, update_time = `+a.add(micros(now))+` WHERE state IN `+a.in(passkey.OpenStates)+
		` AND expire_time <= `+a.add(micros(now))+` RETURNING identity_id`, a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

const credentialColumns = `id, identity_id, realm_id, tenant_id, state, csr_type, jwk_json, jwk_thumbprint, webauthn,
	create_time, update_time, display_name, last_used_time, last_used_user_agent`

var credentialFilter = map[string]column{
	"id":             {name: "id"},
	"identity_id":    {name: "identity_id"},
	"state":          {name: "state"},
	"csr_type":       {name: "csr_type"},
	"jwk_thumbprint": {name: "jwk_thumbprint"},
}

func scanCredential(s interface{ Scan(...any) error }, v *passkey.Credential) error {
	return scanFields(s, credentialFields(v))
}

// credentialFields says where a row of credentialColumns goes in v.
func credentialFields(v *passkey.Credential) fields {
	var wa string
	var ct, ut, lu int64
	return fields{
		dest: []any{&v.ID, &v.IdentityID, &v.RealmID, &v.TenantID, &v.State, &v.CSRType, &v.JWKJSON, &v.JWKThumbprint, &wa, &ct, &ut,
			&v.DisplayName, &lu, &v.LastUsedUserAgent},
		decode: func() error {
			v.CreateTime, v.UpdateTime = fromMicros(ct), fromMicros(ut)
			if lu != 0 {
				v.LastUsedTime = fromMicros(lu)
			}
			if wa == "" {
				return nil
			}
			v.WebAuthn = new(passkey.WebAuthnKey)
			return json.Unmarshal([]byte(wa), v.WebAuthn)
		},
	}
}

func webauthnText(k *passkey.WebAuthnKey) string {
	if k == nil {
		return ""
	}
	b, _ := json.Marshal(k)
	return string(b)
}

func (t *tx) CreateCredential(ctx context.Context, v passkey.Credential) error {
	webauthnID := ""
	if v.WebAuthn != nil {
		webauthnID = base64.RawURLEncoding.EncodeToString(v.WebAuthn.CredentialID)
	}
	_, err := t.exec(ctx, latchkey.ErrNoParent, `INSERT INTO credentials (`+credentialColumns+`, webauthn_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		v.ID, v.IdentityID, v.RealmID, v.TenantID, v.State, v.CSRType, v.JWKJSON, v.JWKThumbprint,
		webauthnText(v.WebAuthn), micros(v.CreateTime), micros(v.UpdateTime), v.DisplayName, microsOrZero(v.LastUsedTime),
		v.LastUsedUserAgent, webauthnID)
	return err
}

// signerQuery reads a credential of a realm with its identity, by a key
// column (the two ways a sign-in names its credential): one statement.
var signerQuery = `SELECT ` + qualified("c", credentialColumns) + `, ` + qualified("i", identityColumns) + `
	FROM credentials c JOIN identities i ON i.id = c.identity_id WHERE c.realm_id = $1 AND c.`

func (t *tx) signer(ctx context.Context, realmID, keyColumn, key string) (c passkey.Credential, i directory.Identity, err error) {
	err = scanFields(t.r.QueryRowContext(ctx, signerQuery+keyColumn+` = $2`, realmID, key), credentialFields(&c), identityFields(&i))
	return c, i, notFoundIfNoRows(err)
}

func (t *tx) GetSignerByWebAuthnID(ctx context.Context, realmID string, credentialID []byte) (passkey.Credential, directory.Identity, error) {
	return t.signer(ctx, realmID, "webauthn_id", base64.RawURLEncoding.EncodeToString(credentialID))
}

func (t *tx) GetSignerByThumbprint(ctx context.Context, realmID, thumbprint string) (passkey.Credential, directory.Identity, error) {
	return t.signer(ctx, realmID, "jwk_thumbprint", thumbprint)
}

func (t *tx) GetCredential(ctx context.Context, realmID, identityID, id string) (passkey.Credential, error) {
	var v passkey.Credential
	var a args
	conds := ofIdentity(&a, []string{"id = " + a.add(id), "realm_id = " + a.add(realmID)}, identityID)
	err := scanCredential(t.r.QueryRowContext(ctx, `SELECT `+credentialColumns+` FROM credentials WHERE `+and(conds), a...), &v)
	return v, notFoundIfNoRows(err)
}

func (t *tx) ListCredentials(ctx context.Context, realmID, identityID string, opts latchkey.ListOptions) ([]passkey.Credential, int, error) {
	q := listQuery{columns: credentialColumns, from: "credentials", key: "id", filter: credentialFilter}
	q.conds = ofIdentity(&q.args, []string{"realm_id = " + q.args.add(realmID)}, identityID)
	return listOf(ctx, t, q, opts, nil, scanCredential)
}

func (t *tx) UpdateCredential(ctx context.Context, v passkey.Credential) error {
	return affected(t.exec(ctx, latchkey.ErrNoParent,
		`UPDATE credentials SET state = $1, webauthn = $2, update_time = $3, display_name = $4 WHERE id = $5`,
		v.State, webauthnText(v.WebAuthn), micros(v.UpdateTime), v.DisplayName, v.ID))
}

func (t *tx) RecordCredentialUse(ctx context.Context, v passkey.Credential) error {
	return affected(t.exec(ctx, latchkey.ErrNoParent,
		`UPDATE credentials SET webauthn = $1, update_time = $2, last_used_time = $3, last_used_user_agent = $4
		WHERE id = $5 AND state = $6`,
		webauthnText(v.WebAuthn), micros(v.UpdateTime), microsOrZero(v.LastUsedTime), v.LastUsedUserAgent, v.ID, passkey.Active))
}

func (t *tx) RefreshEnrollment(ctx context.Context, identityID string, now time.Time) error {
	var a args
	id := a.add(identityID)
	_, err := t.exec(ctx, latchkey.ErrNoParent, `UPDATE identities SET enrollment_status = CASE
		WHEN EXISTS (SELECT 1 FROM credentials WHERE identity_id = `+id+` AND state = `+a.add(passkey.Active)+`) THEN `+a.add(directory.Enrolled)+`
		WHEN EXISTS (SELECT 1 FROM credential_binding_jobs WHERE identity_id = `+id+` AND state IN `+a.in(passkey.OpenStates)+
		` AND expire_time > `+a.add(micros(now))+`) THEN `+a.add(directory.Pending)+`
		WHEN EXISTS (SELECT 1 FROM credential_binding_jobs WHERE identity_id = `+id+` AND state = `+a.add(passkey.FailedToSend)+`) THEN `+a.add(directory.InviteFailed)+`
		ELSE `+a.add(directory.Unenrolled)+` END WHERE id = `+id, a...)
	return err
}

func and(conds []string) string { return strings.Join(conds, " AND ") }

// skipLocked ends a SELECT of rows to claim: on PostgreSQL it skips rows
// another transaction is claiming. SQLite has one writer and needs none.
func (t *tx) skipLocked() string {
	if t.d.Name == "postgres" {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

const batchColumns = `id, realm_id, tenant_id, identity_ids, job_template, state, errors, done, create_time, update_time`

func scanBatch(s interface{ Scan(...any) error }, b *passkey.Batch) error {
	var ids, tmpl, errs string
	var ct, ut int64
	if err := s.Scan(&b.ID, &b.RealmID, &b.TenantID, &ids, &tmpl, &b.State, &errs, &b.Done, &ct, &ut); err != nil {
		return err
	}
	b.CreateTime, b.UpdateTime = fromMicros(ct), fromMicros(ut)
	return errors.Join(json.Unmarshal([]byte(ids), &b.IdentityIDs), json.Unmarshal([]byte(tmpl), &b.JobTemplate),
		json.Unmarshal([]byte(errs), &b.StateCommentary.Errors))
}

func (t *tx) CreateBatch(ctx context.Context, b passkey.Batch) error {
	ids, _ := json.Marshal(b.IdentityIDs)
	tmpl, _ := json.Marshal(b.JobTemplate)
	errs, _ := json.Marshal(b.StateCommentary.Errors)
	_, err := t.exec(ctx, latchkey.ErrNoParent, `INSERT INTO batch_credential_binding_jobs (`+batchColumns+`,
		total, lease_owner, lease_until) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, '', 0)`,
		b.ID, b.RealmID, b.TenantID, string(ids), string(tmpl), b.State, string(errs), b.Done,
		micros(b.CreateTime), micros(b.UpdateTime), len(b.IdentityIDs))
	return err
}

func (t *tx) GetBatch(ctx context.Context, realmID, id string) (passkey.Batch, error) {
	var b passkey.Batch
	err := scanBatch(t.r.QueryRowContext(ctx, `SELECT `+batchColumns+` FROM batch_credential_binding_jobs
		WHERE id = $1 AND realm_id = $2`, id, realmID), &b)
	return b, notFoundIfNoRows(err)
}

func (t *tx) QueuedBatchIdentities(ctx context.Context, realmID string) (int, error) {
	if t.d.Name == "postgres" { // SQLite's one writer already serialises them
		if _, err := t.w.ExecContext(ctx, `SELECT 1 FROM realms WHERE id = $1 FOR UPDATE`, realmID); err != nil {
			return 0, err
		}
	}
	var n int
	err := t.r.QueryRowContext(ctx, `SELECT CAST(COALESCE(SUM(total - done), 0) AS BIGINT) FROM batch_credential_binding_jobs
		WHERE realm_id = $1 AND state = $2`, realmID, passkey.BatchRunning).Scan(&n)
	return n, err
}

func (t *tx) ClaimBatch(ctx context.Context, owner string, now time.Time, lease time.Duration) (passkey.Batch, error) {
	const free = `state = $3 AND lease_until < $4`
	var b passkey.Batch
	err := scanBatch(t.w.QueryRowContext(ctx, `WITH claimed AS MATERIALIZED (
			SELECT id FROM batch_credential_binding_jobs WHERE `+free+` ORDER BY create_time LIMIT 1`+t.skipLocked()+`)
		UPDATE batch_credential_binding_jobs SET lease_owner = $1, lease_until = $2
		WHERE id IN (SELECT id FROM claimed) AND `+free+` RETURNING `+batchColumns,
		owner, micros(now.Add(lease)), passkey.BatchRunning, micros(now)), &b)
	return b, notFoundIfNoRows(err)
}

func (t *tx) SaveBatch(ctx context.Context, b passkey.Batch, owner string, leaseUntil time.Time) error {
	errs, _ := json.Marshal(b.StateCommentary.Errors)
	return affected(t.exec(ctx, latchkey.ErrNoParent, `UPDATE batch_credential_binding_jobs
		SET state = $1, errors = $2, done = $3, update_time = $4, lease_until = $5
		WHERE id = $6 AND lease_owner = $7`,
		b.State, string(errs), b.Done, micros(b.UpdateTime), micros(leaseUntil), b.ID, owner))
}
