package sqlstore

import (
	"context"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/oauth"
)

const roleColumns = "id, resource_server_id, realm_id, tenant_id, display_name, description, create_time, update_time"

var roleFilter = map[string]column{"id": {name: "id"}, "display_name": {name: "display_name"}}

func scanRole(s interface{ Scan(...any) error }, v *oauth.Role) error {
	var ct, ut int64
	err := s.Scan(&v.ID, &v.ResourceServerID, &v.RealmID, &v.TenantID, &v.DisplayName, &v.Description, &ct, &ut)
	v.CreateTime, v.UpdateTime = fromMicros(ct), fromMicros(ut)
	return err
}

func (t *tx) CreateRole(ctx context.Context, v oauth.Role) error {
	_, err := t.exec(ctx, latchkey.ErrNoParent, `INSERT INTO roles (`+roleColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		v.ID, v.ResourceServerID, v.RealmID, v.TenantID, v.DisplayName, v.Description, micros(v.CreateTime), micros(v.UpdateTime))
	return err
}

func (t *tx) GetRole(ctx context.Context, resourceServerID, id string) (oauth.Role, error) {
	var v oauth.Role
	err := scanRole(t.r.QueryRowContext(ctx,
		`SELECT `+roleColumns+` FROM roles WHERE id = $1 AND resource_server_id = $2`, id, resourceServerID), &v)
	return v, notFoundIfNoRows(err)
}

func (t *tx) ListRoles(ctx context.Context, resourceServerID string, opts latchkey.ListOptions) ([]oauth.Role, int, error) {
	q := listQuery{columns: roleColumns, from: "roles", key: "id", filter: roleFilter}
	q.conds = []string{"resource_server_id = " + q.args.add(resourceServerID)}
	return listOf(ctx, t, q, opts, nil, scanRole)
}

func (t *tx) UpdateRole(ctx context.Context, v oauth.Role) error {
	return affected(t.exec(ctx, latchkey.ErrNoParent,
		`UPDATE roles SET display_name = $1, description = $2, update_time = $3 WHERE id = $4 AND resource_server_id = $5`,
		v.DisplayName, v.Description, micros(v.UpdateTime), v.ID, v.ResourceServerID))
}

func (t *tx) DeleteRole(ctx context.Context, resourceServerID, id string) error {
	return affected(t.exec(ctx, latchkey.ErrInUse, `DELETE FROM roles WHERE id = $1 AND resource_server_id = $2`, id, resourceServerID))
}

// addPairs inserts (roleID, value) rows into a role's table, skipping
// those that exist.
func (t *tx) addPairs(ctx context.Context, table, column, roleID string, values []string) error {
	rows := make([][]any, len(values))
	for i, v := range values {
		rows[i] = []any{roleID, v}
	}
	return t.insert(ctx, latchkey.ErrNoParent, `INSERT INTO `+table+` (role_id, `+column+`)`, rows,
		` ON CONFLICT (role_id, `+column+`) DO NOTHING`)
}

func (t *tx) removePairs(ctx context.Context, table, column, roleID string, values []string) error {
	if len(values) == 0 {
		return nil
	}
	var a args
	_, err := t.exec(ctx, latchkey.ErrInUse,
		`DELETE FROM `+table+` WHERE role_id = `+a.add(roleID)+` AND `+column+` IN `+a.in(values), a...)
	return err
}

func (t *tx) AddRoleScopes(ctx context.Context, roleID string, scopes []string) error {
	return t.addPairs(ctx, "role_scopes", "scope", roleID, scopes)
}

func (t *tx) RemoveRoleScopes(ctx context.Context, roleID string, scopes []string) error {
	return t.removePairs(ctx, "role_scopes", "scope", roleID, scopes)
}

func (t *tx) ListRoleScopes(ctx context.Context, roleID string, opts latchkey.ListOptions) ([]string, int, error) {
	q := listQuery{columns: "scope", from: "role_scopes", key: "scope"}
	q.conds = []string{"role_id = " + q.args.add(roleID)}
	return listOf(ctx, t, q, opts, nil, func(s interface{ Scan(...any) error }, v *string) error { return s.Scan(v) })
}

func (t *tx) RemoveScopesFromRoles(ctx context.Context, resourceServerID string, scopes []string) error {
	if len(scopes) == 0 {
		return nil
	}
	var a args
	_, err := t.exec(ctx, latchkey.ErrInUse, `DELETE FROM role_scopes WHERE scope IN `+a.in(scopes)+
		` AND role_id IN (SELECT id FROM roles WHERE resource_server_id = `+a.add(resourceServerID)+`)`, a...)
	return err
}

func (t *tx) AddRoleMembers(ctx context.Context, roleID string, groupIDs, identityIDs []string) error {
	if err := t.addPairs(ctx, "role_groups", "group_id", roleID, groupIDs); err != nil {
		return err
	}
	return t.addPairs(ctx, "role_identities", "identity_id", roleID, identityIDs)
}

func (t *tx) RemoveRoleMembers(ctx context.Context, roleID string, groupIDs, identityIDs []string) error {
	if err := t.removePairs(ctx, "role_groups", "group_id", roleID, groupIDs); err != nil {
		return err
	}
	return t.removePairs(ctx, "role_identities", "identity_id", roleID, identityIDs)
}

func (t *tx) ListRoleGroups(ctx context.Context, roleID string, opts latchkey.ListOptions) ([]directory.Group, int, error) {
	q := listQuery{
		columns: qualified("g", groupColumns),
		from:    "role_groups rg JOIN user_groups g ON g.id = rg.group_id", key: "rg.group_id",
	}
	q.conds = []string{"rg.role_id = " + q.args.add(roleID)}
	return listOf(ctx, t, q, opts, nil, scanGroup)
}

func (t *tx) ListRoleIdentities(ctx context.Context, roleID string, opts latchkey.ListOptions) ([]directory.Identity, int, error) {
	q := listQuery{
		columns: qualified("i", identityColumns),
		from:    "role_identities ri JOIN identities i ON i.id = ri.identity_id", key: "ri.identity_id",
	}
	q.conds = []string{"ri.role_id = " + q.args.add(roleID)}
	return t.listIdentities(ctx, q, opts)
}

// rolesOf lists the roles given to one member in table (role_identities
// or role_groups), of one resource server or ("") of any.
func (t *tx) rolesOf(ctx context.Context, table, column, memberID, resourceServerID string, opts latchkey.ListOptions) ([]oauth.Role, int, error) {
	q := listQuery{
		columns: qualified("r", roleColumns),
		from:    table + " m JOIN roles r ON r.id = m.role_id", key: "m.role_id",
	}
	q.conds = []string{"m." + column + " = " + q.args.add(memberID)}
	if resourceServerID != "" {
		q.conds = append(q.conds, "r.resource_server_id = "+q.args.add(resourceServerID))
	}
	return listOf(ctx, t, q, opts, nil, scanRole)
}

func (t *tx) ListRolesOfIdentity(ctx context.Context, identityID, resourceServerID string, opts latchkey.ListOptions) ([]oauth.Role, int, error) {
	return t.rolesOf(ctx, "role_identities", "identity_id", identityID, resourceServerID, opts)
}

func (t *tx) ListRolesOfGroup(ctx context.Context, groupID, resourceServerID string, opts latchkey.ListOptions) ([]oauth.Role, int, error) {
	return t.rolesOf(ctx, "role_groups", "group_id", groupID, resourceServerID, opts)
}

func (t *tx) ScopesOfIdentity(ctx context.Context, identityID, resourceServerID string) ([]string, error) {
	return t.scopes(ctx, `SELECT DISTINCT s.scope FROM role_scopes s JOIN roles r ON r.id = s.role_id
		WHERE r.resource_server_id = $1 AND (
			s.role_id IN (SELECT role_id FROM role_identities WHERE identity_id = $2) OR
			s.role_id IN (SELECT rg.role_id FROM role_groups rg JOIN memberships m ON m.group_id = rg.group_id WHERE m.identity_id = $3))
		ORDER BY s.scope`, resourceServerID, identityID, identityID)
}

// scopes runs a query of scopes.
func (t *tx) scopes(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := t.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
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

// ManagementScopesOf returns, sorted, the management API's scopes that
// identities hold through their roles and their groups' roles, and that
// groups give their members through theirs.
func (t *tx) ManagementScopesOf(ctx context.Context, identityIDs, groupIDs []string) ([]string, error) {
	var a args
	return t.scopes(ctx, `SELECT DISTINCT s.scope FROM role_scopes s JOIN roles r ON r.id = s.role_id
		JOIN resource_servers rs ON rs.id = r.resource_server_id
		WHERE rs.identifier = `+a.add(oauth.ManagementAPI)+` AND (
			s.role_id IN (SELECT role_id FROM role_identities WHERE identity_id IN `+a.in(identityIDs)+`) OR
			s.role_id IN (SELECT rg.role_id FROM role_groups rg JOIN memberships m ON m.group_id = rg.group_id WHERE m.identity_id IN `+a.in(identityIDs)+`) OR
			s.role_id IN (SELECT role_id FROM role_groups WHERE group_id IN `+a.in(groupIDs)+`))
		ORDER BY s.scope`, a...)
}

func (t *tx) MissingGroups(ctx context.Context, realmID string, ids []string) ([]string, error) {
	return t.missing(ctx, "user_groups", realmID, ids)
}
