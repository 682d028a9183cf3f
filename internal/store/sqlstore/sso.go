package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sso"
)

const ssoConfigColumns = `id, tenant_id, realm_id, display_name, type, is_migrated, payload, secret_sealed, application_id, create_time, update_time`

func ssoConfigRow(c sso.Config) ([]any, error) {
	payload, err := json.Marshal(c.Payload)
	if err != nil {
		return nil, err
	}
	return []any{c.ID, c.TenantID, c.RealmID, c.DisplayName, c.Type, boolInt(c.IsMigrated), string(payload),
		c.SecretSealed, c.ApplicationID, micros(c.CreateTime), micros(c.UpdateTime)}, nil
}

func (t *tx) CreateSSOConfig(ctx context.Context, c sso.Config) error {
	row, err := ssoConfigRow(c)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, latchkey.ErrNoParent, `INSERT INTO sso_configs (`+ssoConfigColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, row...)
	return err
}

func scanSSOConfig(s interface{ Scan(...any) error }, c *sso.Config) error {
	var migrated, ct, ut int64
	var payload string
	if err := s.Scan(&c.ID, &c.TenantID, &c.RealmID, &c.DisplayName, &c.Type, &migrated, &payload, &c.SecretSealed,
		&c.ApplicationID, &ct, &ut); err != nil {
		return err
	}
	c.IsMigrated, c.CreateTime, c.UpdateTime = migrated == 1, fromMicros(ct), fromMicros(ut)
	var err error
	c.Payload, err = sso.DecodePayload([]byte(payload), nil)
	return err
}

func (t *tx) GetSSOConfig(ctx context.Context, tenantID, realmID, id string) (sso.Config, error) {
	var c sso.Config
	err := scanSSOConfig(t.r.QueryRowContext(ctx, `SELECT `+ssoConfigColumns+` FROM sso_configs
		WHERE id = $1 AND tenant_id = $2 AND realm_id = $3`, id, tenantID, realmID), &c)
	return c, notFoundIfNoRows(err)
}

func (t *tx) GetSSOConfigOfApplication(ctx context.Context, tenantID, realmID, applicationID string) (sso.Config, error) {
	var c sso.Config
	err := scanSSOConfig(t.r.QueryRowContext(ctx, `SELECT `+ssoConfigColumns+` FROM sso_configs
		WHERE application_id = $1 AND tenant_id = $2 AND realm_id = $3 AND application_id <> ''`, applicationID, tenantID, realmID), &c)
	return c, notFoundIfNoRows(err)
}

// listSSOConfigs pages configs of a realm matching conds (whose parameters
// are in q's args), by id.
func (t *tx) listSSOConfigs(ctx context.Context, q listQuery, opts latchkey.ListOptions) ([]sso.Config, int, error) {
	q.columns, q.from, q.key = ssoConfigColumns, "sso_configs", "id"
	return listOf(ctx, t, q, opts, []sso.Config{}, scanSSOConfig)
}

func (t *tx) ListSSOConfigs(ctx context.Context, tenantID, realmID string, f sso.ListFilter, opts latchkey.ListOptions) ([]sso.Config, int, error) {
	var q listQuery
	q.conds = []string{"tenant_id = " + q.args.add(tenantID), "realm_id = " + q.args.add(realmID)}
	if len(f.Types) > 0 {
		q.conds = append(q.conds, "type IN "+q.args.in(f.Types))
	}
	if f.IsMigrated != nil {
		q.conds = append(q.conds, "is_migrated = "+q.args.add(boolInt(*f.IsMigrated)))
	}
	return t.listSSOConfigs(ctx, q, opts)
}

// configsOfIdentity selects the configs of a realm assigned to an identity
// directly or through any of its groups.
func configsOfIdentity(realmID, identityID string) listQuery {
	var q listQuery
	realm, identity := q.args.add(realmID), q.args.add(identityID)
	q.conds = []string{"realm_id = " + realm, `(id IN (SELECT sso_config_id FROM sso_config_identities WHERE identity_id = ` + identity + `)
		OR id IN (SELECT g.sso_config_id FROM sso_config_groups g JOIN memberships m ON m.group_id = g.group_id
		WHERE m.identity_id = ` + identity + `))`}
	return q
}

func (t *tx) ListSSOConfigsOfIdentity(ctx context.Context, realmID, identityID string, opts latchkey.ListOptions) ([]sso.Config, int, error) {
	return t.listSSOConfigs(ctx, configsOfIdentity(realmID, identityID), opts)
}

func (t *tx) ListTileConfigsOfIdentity(ctx context.Context, realmID, identityID, after string, limit int) ([]sso.TileConfig, error) {
	q := configsOfIdentity(realmID, identityID)
	q.columns, q.from, q.key = "id, tenant_id, realm_id, type, display_name, payload", "sso_configs", "id"
	cs, _, err := listOf(ctx, t, q, latchkey.ListOptions{After: after, Limit: limit, SkipTotal: true}, []sso.TileConfig{},
		func(s interface{ Scan(...any) error }, c *sso.TileConfig) error {
			return s.Scan(&c.ID, &c.TenantID, &c.RealmID, &c.Type, &c.DisplayName, &c.Payload)
		})
	return cs, err
}

func (t *tx) ListSSOConfigsOfGroup(ctx context.Context, realmID, groupID string, opts latchkey.ListOptions) ([]sso.Config, int, error) {
	var q listQuery
	q.conds = []string{"realm_id = " + q.args.add(realmID),
		"id IN (SELECT sso_config_id FROM sso_config_groups WHERE group_id = " + q.args.add(groupID) + ")"}
	return t.listSSOConfigs(ctx, q, opts)
}

func (t *tx) UpdateSSOConfig(ctx context.Context, c sso.Config) error {
	row, err := ssoConfigRow(c)
	if err != nil {
		return err
	}
	return affected(t.exec(ctx, latchkey.ErrNoParent, `UPDATE sso_configs SET display_name = $4, type = $5, is_migrated = $6,
		payload = $7, secret_sealed = $8, application_id = $9, update_time = $10
		WHERE id = $1 AND tenant_id = $2 AND realm_id = $3`, append(row[:9:9], row[10])...))
}

func (t *tx) DeleteSSOConfig(ctx context.Context, tenantID, realmID, id string) error {
	return affected(t.exec(ctx, latchkey.ErrNoParent, `DELETE FROM sso_configs WHERE id = $1 AND tenant_id = $2 AND realm_id = $3`,
		id, tenantID, realmID))
}

// assign inserts (configID, id) rows into an assignment table, once each.
func (t *tx) assign(ctx context.Context, table, column, configID string, ids []string) error {
	rows := make([][]any, len(ids))
	for i, id := range ids {
		rows[i] = []any{configID, id}
	}
	return t.insert(ctx, latchkey.ErrNoParent, `INSERT INTO `+table+` (sso_config_id, `+column+`)`, rows,
		` ON CONFLICT (sso_config_id, `+column+`) DO NOTHING`)
}

func (t *tx) unassign(ctx context.Context, table, column, configID string, ids []string) error {
	var a args
	_, err := t.exec(ctx, latchkey.ErrNoParent, `DELETE FROM `+table+` WHERE sso_config_id = `+a.add(configID)+
		` AND `+column+` IN `+a.in(ids), a...)
	return err
}

func (t *tx) AssignIdentities(ctx context.Context, configID string, ids []string) error {
	return t.assign(ctx, "sso_config_identities", "identity_id", configID, ids)
}

func (t *tx) UnassignIdentities(ctx context.Context, configID string, ids []string) error {
	return t.unassign(ctx, "sso_config_identities", "identity_id", configID, ids)
}

func (t *tx) AssignGroups(ctx context.Context, configID string, ids []string) error {
	return t.assign(ctx, "sso_config_groups", "group_id", configID, ids)
}

func (t *tx) UnassignGroups(ctx context.Context, configID string, ids []string) error {
	return t.unassign(ctx, "sso_config_groups", "group_id", configID, ids)
}

// ListAssignedIdentities lists one row per way an identity is assigned:
// directly (group ”) and through each assigned group it belongs to, keyed
// by identity id and group id.
func (t *tx) ListAssignedIdentities(ctx context.Context, configID string, opts latchkey.ListOptions) ([]sso.AssociatedIdentity, int, error) {
	var q listQuery
	config := q.args.add(configID)
	q.columns = qualified("i", identityColumns) + ", x.group_id, x.group_name"
	q.from = `(SELECT identity_id, '' AS group_id, '' AS group_name, identity_id || '/' AS k
			FROM sso_config_identities WHERE sso_config_id = ` + config + `
		UNION ALL SELECT m.identity_id, g.id, g.display_name, m.identity_id || '/' || g.id
			FROM sso_config_groups sg JOIN user_groups g ON g.id = sg.group_id JOIN memberships m ON m.group_id = g.id
			WHERE sg.sso_config_id = ` + config + `) x JOIN identities i ON i.id = x.identity_id`
	q.key, q.conds = "x.k", []string{"1 = 1"}
	return listOf(ctx, t, q, opts, []sso.AssociatedIdentity{}, func(s interface{ Scan(...any) error }, v *sso.AssociatedIdentity) error {
		return scanFields(s, identityFields(&v.Identity), fields{dest: []any{&v.GroupID, &v.GroupDisplayName}, decode: func() error { return nil }})
	})
}

func (t *tx) ListAssignedGroups(ctx context.Context, configID string, opts latchkey.ListOptions) ([]sso.AssociatedGroup, int, error) {
	var q listQuery
	q.columns = qualified("g", groupColumns) + ", (SELECT count(*) FROM memberships m WHERE m.group_id = g.id)"
	q.from, q.key = "sso_config_groups sg JOIN user_groups g ON g.id = sg.group_id", "sg.group_id"
	q.conds = []string{"sg.sso_config_id = " + q.args.add(configID)}
	return listOf(ctx, t, q, opts, []sso.AssociatedGroup{}, func(s interface{ Scan(...any) error }, v *sso.AssociatedGroup) error {
		var ct, ut int64
		g := &v.Group
		err := s.Scan(&g.ID, &g.RealmID, &g.TenantID, &g.DisplayName, &g.Description, &g.ExternalID, &ct, &ut, &v.MemberCount)
		g.CreateTime, g.UpdateTime = fromMicros(ct), fromMicros(ut)
		return err
	})
}

func (t *tx) IdentityAssigned(ctx context.Context, configID, identityID string) (bool, error) {
	var n int
	err := t.r.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM sso_config_identities WHERE sso_config_id = $1 AND identity_id = $2) +
		(SELECT count(*) FROM sso_config_groups g JOIN memberships m ON m.group_id = g.group_id
			WHERE g.sso_config_id = $1 AND m.identity_id = $2)`, configID, identityID).Scan(&n)
	return n > 0, err
}

func (t *tx) GroupsAssigned(ctx context.Context, configID string, groupIDs []string) ([]string, error) {
	var a args
	rows, err := t.r.QueryContext(ctx, `SELECT group_id FROM sso_config_groups WHERE sso_config_id = `+a.add(configID)+
		` AND group_id IN `+a.in(groupIDs)+` ORDER BY group_id`, a...)
	if err != nil {
		return nil, err
	}
	return scanStrings(rows)
}

func scanStrings(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

const identityProviderColumns = `id, tenant_id, realm_id, display_name, protocol_config, client_secret_sealed, create_time, update_time`

func identityProviderRow(p sso.IdentityProvider) []any {
	pc, _ := json.Marshal(p.ProtocolConfig)
	return []any{p.ID, p.TenantID, p.RealmID, p.DisplayName, string(pc), p.ClientSecretSealed, micros(p.CreateTime), micros(p.UpdateTime)}
}

func scanIdentityProvider(s interface{ Scan(...any) error }, p *sso.IdentityProvider) error {
	var pc string
	var ct, ut int64
	if err := s.Scan(&p.ID, &p.TenantID, &p.RealmID, &p.DisplayName, &pc, &p.ClientSecretSealed, &ct, &ut); err != nil {
		return err
	}
	p.CreateTime, p.UpdateTime = fromMicros(ct), fromMicros(ut)
	return json.Unmarshal([]byte(pc), &p.ProtocolConfig)
}

func (t *tx) CreateIdentityProvider(ctx context.Context, p sso.IdentityProvider) error {
	_, err := t.exec(ctx, latchkey.ErrNoParent, `INSERT INTO identity_providers (`+identityProviderColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, identityProviderRow(p)...)
	return err
}

func (t *tx) GetIdentityProvider(ctx context.Context, tenantID, realmID, id string) (sso.IdentityProvider, error) {
	var p sso.IdentityProvider
	err := scanIdentityProvider(t.r.QueryRowContext(ctx, `SELECT `+identityProviderColumns+` FROM identity_providers
		WHERE id = $1 AND tenant_id = $2 AND realm_id = $3`, id, tenantID, realmID), &p)
	return p, notFoundIfNoRows(err)
}

func (t *tx) ListIdentityProviders(ctx context.Context, tenantID, realmID string, opts latchkey.ListOptions) ([]sso.IdentityProvider, int, error) {
	q := listQuery{columns: identityProviderColumns, from: "identity_providers", key: "id"}
	q.conds = []string{"tenant_id = " + q.args.add(tenantID), "realm_id = " + q.args.add(realmID)}
	return listOf(ctx, t, q, opts, []sso.IdentityProvider{}, scanIdentityProvider)
}

func (t *tx) UpdateIdentityProvider(ctx context.Context, p sso.IdentityProvider) error {
	row := identityProviderRow(p)
	return affected(t.exec(ctx, latchkey.ErrNoParent, `UPDATE identity_providers SET display_name = $4, protocol_config = $5,
		client_secret_sealed = $6, update_time = $7 WHERE id = $1 AND tenant_id = $2 AND realm_id = $3`,
		append(row[:6:6], row[7])...))
}

func (t *tx) DeleteIdentityProvider(ctx context.Context, tenantID, realmID, id string) error {
	return affected(t.exec(ctx, latchkey.ErrNoParent, `DELETE FROM identity_providers WHERE id = $1 AND tenant_id = $2 AND realm_id = $3`,
		id, tenantID, realmID))
}

func (t *tx) GetFlowTypeConfig(ctx context.Context, tenantID, realmID string) (sso.FlowTypeConfig, error) {
	var c sso.FlowTypeConfig
	var pc string
	var ct, ut int64
	err := t.r.QueryRowContext(ctx, `SELECT id, tenant_id, realm_id, platform_config, create_time, update_time
		FROM flow_type_configs WHERE realm_id = $1 AND tenant_id = $2`, realmID, tenantID).Scan(&c.ID, &c.TenantID, &c.RealmID, &pc, &ct, &ut)
	if err != nil {
		return c, notFoundIfNoRows(err)
	}
	c.CreateTime, c.UpdateTime = fromMicros(ct), fromMicros(ut)
	return c, json.Unmarshal([]byte(pc), &c.PlatformConfig)
}

// PutFlowTypeConfig writes a realm's config; of two first writers, the
// second keeps its create time and id but writes its platforms.
func (t *tx) PutFlowTypeConfig(ctx context.Context, c sso.FlowTypeConfig) error {
	pc, err := json.Marshal(c.PlatformConfig)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, latchkey.ErrNoParent, `INSERT INTO flow_type_configs (realm_id, id, tenant_id, platform_config, create_time, update_time)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (realm_id) DO UPDATE SET platform_config = excluded.platform_config,
		update_time = excluded.update_time`, c.RealmID, c.ID, c.TenantID, string(pc), micros(c.CreateTime), micros(c.UpdateTime))
	return err
}
