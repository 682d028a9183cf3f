package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/filter"
)

func (t *tx) CreateTenant(ctx context.Context, v directory.Tenant) error {
	_, err := t.exec(ctx, latchkey.ErrNoParent,
		`INSERT INTO tenants (id, display_name, create_time, update_time) VALUES ($1, $2, $3, $4)`,
		v.ID, v.DisplayName, micros(v.CreateTime), micros(v.UpdateTime))
	return err
}

func (t *tx) GetTenant(ctx context.Context, id string) (directory.Tenant, error) {
	var v directory.Tenant
	var ct, ut int64
	err := one(t.r.QueryRowContext(ctx, `SELECT id, display_name, create_time, update_time FROM tenants WHERE id = $1`, id),
		&v.ID, &v.DisplayName, &ct, &ut)
	v.CreateTime, v.UpdateTime = fromMicros(ct), fromMicros(ut)
	return v, err
}

func (t *tx) UpdateTenant(ctx context.Context, v directory.Tenant) error {
	return affected(t.exec(ctx, latchkey.ErrNoParent,
		`UPDATE tenants SET display_name = $2, update_time = $3 WHERE id = $1`, v.ID, v.DisplayName, micros(v.UpdateTime)))
}

const realmColumns = "id, tenant_id, display_name, classification, create_time, update_time, session_idle_timeout, session_lifetime"

var realmFilter = map[string]column{"id": {name: "id"}, "display_name": {name: "display_name_key", kind: foldedKey}}

func scanRealm(s interface{ Scan(...any) error }, v *directory.Realm) error {
	var ct, ut int64
	err := s.Scan(&v.ID, &v.TenantID, &v.DisplayName, &v.Classification, &ct, &ut, &v.SessionIdleTimeout, &v.SessionLifetime)
	v.CreateTime, v.UpdateTime = fromMicros(ct), fromMicros(ut)
	return err
}

func (t *tx) CreateRealm(ctx context.Context, v directory.Realm) error {
	_, err := t.exec(ctx, latchkey.ErrNoParent,
		`INSERT INTO realms (id, tenant_id, display_name, display_name_key, classification, create_time, update_time,
			session_idle_timeout, session_lifetime) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		v.ID, v.TenantID, v.DisplayName, directory.Fold(v.DisplayName), v.Classification, micros(v.CreateTime), micros(v.UpdateTime),
		v.SessionIdleTimeout, v.SessionLifetime)
	return err
}

func (t *tx) GetRealm(ctx context.Context, tenantID, id string) (directory.Realm, error) {
	var v directory.Realm
	err := scanRealm(t.r.QueryRowContext(ctx, `SELECT `+realmColumns+` FROM realms WHERE id = $1 AND tenant_id = $2`, id, tenantID), &v)
	return v, notFoundIfNoRows(err)
}

func notFoundIfNoRows(err error) error {
	if err == sql.ErrNoRows {
		return latchkey.ErrNotFound
	}
	return err
}

func (t *tx) ListRealms(ctx context.Context, tenantID string, opts latchkey.ListOptions) ([]directory.Realm, int, error) {
	q := listQuery{columns: realmColumns, from: "realms", key: "id", filter: realmFilter}
	q.conds = []string{"tenant_id = " + q.args.add(tenantID)}
	return listOf(ctx, t, q, opts, nil, scanRealm)
}

func (t *tx) UpdateRealm(ctx context.Context, v directory.Realm) error {
	return affected(t.exec(ctx, latchkey.ErrNoParent,
		`UPDATE realms SET display_name = $3, display_name_key = $4, classification = $5, update_time = $6,
		 session_idle_timeout = $7, session_lifetime = $8 WHERE id = $1 AND tenant_id = $2`,
		v.ID, v.TenantID, v.DisplayName, directory.Fold(v.DisplayName), v.Classification, micros(v.UpdateTime),
		v.SessionIdleTimeout, v.SessionLifetime))
}

func (t *tx) DeleteRealm(ctx context.Context, tenantID, id string) error {
	return affected(t.exec(ctx, latchkey.ErrInUse, `DELETE FROM realms WHERE id = $1 AND tenant_id = $2`, id, tenantID))
}

const identityColumns = "id, realm_id, tenant_id, display_name, status, traits, create_time, update_time, enrollment_status"

// identityFilter holds every attribute an identity filter or sort may name:
// the indexed columns, every other trait inside the traits JSON, and times.
var identityFilter = func() map[string]column {
	cols := map[string]column{
		"id":                           {name: "id", unique: true},
		"display_name":                 {name: "display_name_key", kind: foldedKey},
		"status":                       {name: "status", kind: folded},
		"traits.username":              {name: "username_key", kind: foldedKey, unique: true}, // identities_username
		"traits.primary_email_address": {name: "email_key", kind: foldedKey},
		"traits.external_id":           {name: "external_id"},
		"enrollment_status":            {name: "enrollment_status"},
		"create_time":                  {name: "create_time", kind: timestamp},
		"update_time":                  {name: "update_time", kind: timestamp},
	}
	for _, t := range directory.TraitNames {
		if _, ok := cols["traits."+t]; !ok {
			cols["traits."+t] = column{name: "traits", kind: trait, key: t}
		}
	}
	return cols
}()

// prefixed returns cols with every column qualified by a table alias.
func prefixed(cols map[string]column, alias string) map[string]column {
	out := make(map[string]column, len(cols))
	for k, c := range cols {
		c.name = alias + "." + c.name
		out[k] = c
	}
	return out
}

func scanIdentity(s interface{ Scan(...any) error }, v *directory.Identity) error {
	return scanFields(s, identityFields(v))
}

// identityFields says where a row of identityColumns goes in v.
func identityFields(v *directory.Identity) fields {
	var ct, ut int64
	var traits []byte
	return fields{
		dest: []any{&v.ID, &v.RealmID, &v.TenantID, &v.DisplayName, &v.Status, &traits, &ct, &ut, &v.EnrollmentStatus},
		decode: func() error {
			v.CreateTime, v.UpdateTime = fromMicros(ct), fromMicros(ut)
			return decodeTraits(traits, &v.Traits)
		},
	}
}

// identityRow returns the stored form of an identity, in the order of the
// INSERT in CreateIdentities.
func identityRow(v directory.Identity) []any {
	traits, _ := json.Marshal(v.Traits)
	return []any{v.ID, v.RealmID, v.TenantID, v.DisplayName, directory.Fold(v.DisplayName), v.Status,
		directory.Fold(v.Traits.Username), directory.Fold(v.Traits.PrimaryEmailAddress), v.Traits.ExternalID,
		string(traits), micros(v.CreateTime), micros(v.UpdateTime)}
}

func (t *tx) CreateIdentities(ctx context.Context, ids []directory.Identity) error {
	if len(ids) == 0 {
		return nil
	}
	rows := make([][]any, len(ids))
	for i, v := range ids {
		rows[i] = identityRow(v)
	}
	// In id order, a batch's rows lie in the table as a listing reads them.
	slices.SortFunc(rows, func(a, b []any) int { return strings.Compare(a[0].(string), b[0].(string)) })
	if err := t.insert(ctx, latchkey.ErrNoParent, `INSERT INTO identities (id, realm_id, tenant_id, display_name,
		display_name_key, status, username_key, email_key, external_id, traits, create_time, update_time)`, rows, ""); err != nil {
		return err
	}
	idList := make([]string, len(ids))
	for i, v := range ids {
		idList[i] = v.ID
	}
	return t.countIdentities(ctx, ids[0].RealmID, idList, 1)
}

// bucket is the identity_buckets row that counts the identity id: its
// first two characters, as the migration's substr(id, 1, 2) takes them.
func bucket(id string) string { return id[:min(2, len(id))] }

// countIdentities adds delta to the buckets of the ids, in one statement
// whose rows are in prefix order, the one order in which concurrent
// writers lock them.
func (t *tx) countIdentities(ctx context.Context, realmID string, ids []string, delta int) error {
	n := map[string]int{}
	for _, id := range ids {
		n[bucket(id)] += delta
	}
	rows := make([][]any, 0, len(n))
	for _, prefix := range slices.Sorted(maps.Keys(n)) {
		rows = append(rows, []any{realmID, prefix, n[prefix]})
	}
	return t.insert(ctx, latchkey.ErrNoParent, `INSERT INTO identity_buckets (realm_id, prefix, n)`, rows,
		` ON CONFLICT (realm_id, prefix) DO UPDATE SET n = identity_buckets.n + excluded.n`)
}

func (t *tx) GetIdentity(ctx context.Context, realmID, id string) (directory.Identity, error) {
	var v directory.Identity
	err := scanIdentity(t.r.QueryRowContext(ctx,
		`SELECT `+identityColumns+` FROM identities WHERE id = $1 AND realm_id = $2`, id, realmID), &v)
	return v, notFoundIfNoRows(err)
}

func (t *tx) ListIdentities(ctx context.Context, realmID string, opts latchkey.ListOptions) ([]directory.Identity, int, error) {
	q := listQuery{columns: identityColumns, from: "identities", key: "id", filter: identityFilter,
		fastCount: `SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM identity_buckets WHERE realm_id = $1`,
		buckets:   `SELECT prefix, n FROM identity_buckets WHERE realm_id = $1 ORDER BY prefix`}
	q.conds = []string{"realm_id = " + q.args.add(realmID)}
	return t.listIdentities(ctx, q, opts)
}

func (t *tx) IdentityIDs(ctx context.Context, realmID string, opts latchkey.ListOptions) ([]string, error) {
	q := listQuery{columns: "id", from: "identities", key: "id", filter: identityFilter}
	q.conds = []string{"realm_id = " + q.args.add(realmID)}
	opts.SkipTotal = true
	ids, _, err := listOf(ctx, t, q, opts, make([]string, 0, max(opts.Limit, 0)), func(s interface{ Scan(...any) error }, id *string) error {
		return s.Scan(id)
	})
	return ids, err
}

func (t *tx) CountIdentitiesUpTo(ctx context.Context, realmID string, f filter.Expr, max int) (int, error) {
	a := args{realmID}
	where, err := a.where(f, identityFilter, t.d)
	if err != nil {
		return 0, err
	}
	var n int
	err = t.r.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM identities WHERE realm_id = $1 AND `+where+
		` LIMIT `+a.add(max+1)+`) m`, a...).Scan(&n)
	return n, err
}

func (t *tx) IdentitiesByID(ctx context.Context, realmID string, ids []string) ([]directory.Identity, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var a args
	rows, err := t.r.QueryContext(ctx, `SELECT `+identityColumns+` FROM identities WHERE realm_id = `+t.add(&a, realmID)+
		` AND id IN `+t.in(&a, ids), a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]directory.Identity, 0, len(ids))
	for rows.Next() {
		var v directory.Identity
		if err := scanIdentity(rows, &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func (t *tx) listIdentities(ctx context.Context, q listQuery, opts latchkey.ListOptions) ([]directory.Identity, int, error) {
	// A page is allocated once: growing it copied identities, some 800
	// bytes each, twice over (1.0 of 3.6 s of CPU reading an export of
	// 1,000,000 from PostgreSQL).
	return listOf(ctx, t, q, opts, make([]directory.Identity, 0, min(max(opts.Limit, 0), 10000)), scanIdentity)
}

func (t *tx) UpdateIdentity(ctx context.Context, v directory.Identity) error {
	row := identityRow(v)
	return affected(t.exec(ctx, latchkey.ErrNoParent,
		`UPDATE identities SET display_name = $4, display_name_key = $5, status = $6, username_key = $7,
		 email_key = $8, external_id = $9, traits = $10, update_time = $11 WHERE id = $1 AND realm_id = $2 AND tenant_id = $3`,
		append(row[:10:10], micros(v.UpdateTime))...))
}

func (t *tx) DeleteIdentities(ctx context.Context, realmID string, ids []string) (int, error) {
	if err := t.touchGroupsOf(ctx, realmID, ids); err != nil {
		return 0, err
	}
	var a args
	cond := "realm_id = " + a.add(realmID) + " AND id IN " + a.in(ids)
	rows, err := t.w.QueryContext(ctx, `DELETE FROM identities WHERE `+cond+` RETURNING id`, a...)
	if err != nil {
		return 0, t.classify(err, latchkey.ErrInUse)
	}
	var deleted []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		deleted = append(deleted, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(deleted) == 0 {
		return 0, t.classify(err, latchkey.ErrInUse)
	}
	return len(deleted), t.countIdentities(ctx, realmID, deleted, -1)
}

func (t *tx) MissingIdentities(ctx context.Context, realmID string, ids []string) ([]string, error) {
	return t.missing(ctx, "identities", realmID, ids)
}

// missing returns those of ids that are no rows of the realm in table.
func (t *tx) missing(ctx context.Context, table, realmID string, ids []string) ([]string, error) {
	var a args
	rows, err := t.r.QueryContext(ctx,
		`SELECT id FROM `+table+` WHERE realm_id = `+a.add(realmID)+` AND id IN `+a.in(ids), a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	found := make(map[string]bool, len(ids))
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		found[id] = true
	}
	var missing []string
	for _, id := range ids {
		if !found[id] {
			missing = append(missing, id)
		}
	}
	return missing, rows.Err()
}

const groupColumns = "id, realm_id, tenant_id, display_name, description, external_id, create_time, update_time"

var groupFilter = map[string]column{
	"id":            {name: "id", unique: true},
	"display_name":  {name: "display_name_key", kind: foldedKey},
	"external_id":   {name: "external_id"},
	"members.value": {name: "id", kind: member},
	"create_time":   {name: "create_time", kind: timestamp},
	"update_time":   {name: "update_time", kind: timestamp},
}

func scanGroup(s interface{ Scan(...any) error }, v *directory.Group) error {
	var ct, ut int64
	err := s.Scan(&v.ID, &v.RealmID, &v.TenantID, &v.DisplayName, &v.Description, &v.ExternalID, &ct, &ut)
	v.CreateTime, v.UpdateTime = fromMicros(ct), fromMicros(ut)
	return err
}

func (t *tx) CreateGroup(ctx context.Context, v directory.Group) error {
	_, err := t.exec(ctx, latchkey.ErrNoParent,
		`INSERT INTO user_groups (id, realm_id, tenant_id, display_name, display_name_key, description, external_id, create_time, update_time)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		v.ID, v.RealmID, v.TenantID, v.DisplayName, directory.Fold(v.DisplayName), v.Description, v.ExternalID,
		micros(v.CreateTime), micros(v.UpdateTime))
	return err
}

func (t *tx) GetGroup(ctx context.Context, realmID, id string) (directory.Group, error) {
	var v directory.Group
	err := scanGroup(t.r.QueryRowContext(ctx, `SELECT `+groupColumns+` FROM user_groups WHERE id = $1 AND realm_id = $2`, id, realmID), &v)
	return v, notFoundIfNoRows(err)
}

func (t *tx) LockGroup(ctx context.Context, realmID, id string) (directory.Group, error) {
	lock := ""
	if t.d.Name == "postgres" { // SQLite's one writer already serialises transactions
		lock = " FOR UPDATE"
	}
	var v directory.Group
	err := scanGroup(t.w.QueryRowContext(ctx, `SELECT `+groupColumns+` FROM user_groups WHERE id = $1 AND realm_id = $2`+lock, id, realmID), &v)
	return v, notFoundIfNoRows(err)
}

func (t *tx) ListGroups(ctx context.Context, realmID string, opts latchkey.ListOptions) ([]directory.Group, int, error) {
	q := listQuery{columns: groupColumns, from: "user_groups", key: "id", filter: groupFilter}
	q.conds = []string{"realm_id = " + q.args.add(realmID)}
	return listOf(ctx, t, q, opts, nil, scanGroup)
}

func (t *tx) UpdateGroup(ctx context.Context, v directory.Group) error {
	return affected(t.exec(ctx, latchkey.ErrNoParent,
		`UPDATE user_groups SET display_name = $3, display_name_key = $4, description = $5, external_id = $6, update_time = $7
		 WHERE id = $1 AND realm_id = $2`,
		v.ID, v.RealmID, v.DisplayName, directory.Fold(v.DisplayName), v.Description, v.ExternalID, micros(v.UpdateTime)))
}

func (t *tx) DeleteGroup(ctx context.Context, realmID, id string) error {
	return affected(t.exec(ctx, latchkey.ErrInUse, `DELETE FROM user_groups WHERE id = $1 AND realm_id = $2`, id, realmID))
}

// touch returns the SET clause that marks a row changed now: update_time
// moves forward even when the clock does not (a change in the same
// microsecond, another node's clock behind), so that its version changes.
func (t *tx) touch(a *args) string {
	now := micros(t.clock.Now())
	return "update_time = CASE WHEN update_time < " + t.add(a, now) + " THEN " + t.add(a, now) + " ELSE update_time + 1 END"
}

// touchGroup marks a group changed: a SCIM Group shows its members.
func (t *tx) touchGroup(ctx context.Context, groupID string) error {
	var a args
	set := t.touch(&a)
	_, err := t.exec(ctx, latchkey.ErrNoParent, `UPDATE user_groups SET `+set+` WHERE id = `+t.add(&a, groupID), a...)
	return err
}

// touchGroupsOf marks changed the groups of identities of a realm about to
// be deleted.
func (t *tx) touchGroupsOf(ctx context.Context, realmID string, identityIDs []string) error {
	var a args
	set := t.touch(&a)
	_, err := t.exec(ctx, latchkey.ErrNoParent, `UPDATE user_groups SET `+set+` WHERE realm_id = `+t.add(&a, realmID)+
		` AND id IN (SELECT group_id FROM memberships WHERE identity_id IN `+t.in(&a, identityIDs)+`)`, a...)
	return err
}

// AddMembers, RemoveMembers and RemoveAllMembers mark the group changed (see
// touch). The identities are not written: a SCIM User's version is made of
// its own and its groups' (scim.UserVersion), which costs no write to each
// of a hundred members a group push adds.
func (t *tx) AddMembers(ctx context.Context, groupID string, identityIDs []string) error {
	return t.AddMemberships(ctx, map[string][]string{groupID: identityIDs})
}

// AddMemberships inserts the memberships, then marks their groups changed.
func (t *tx) AddMemberships(ctx context.Context, members map[string][]string) error {
	if err := t.InsertMemberships(ctx, members); err != nil {
		return err
	}
	return t.TouchGroups(ctx, directory.Gaining(members))
}

// InsertMemberships inserts the memberships in key order, which an import
// of thousands of rows into a hundred groups finds in fewer pages than
// group by group.
func (t *tx) InsertMemberships(ctx context.Context, members map[string][]string) error {
	var rows [][]any
	for g, ids := range members {
		for _, id := range ids {
			rows = append(rows, []any{g, id})
		}
	}
	slices.SortFunc(rows, func(a, b []any) int {
		return cmp.Or(strings.Compare(a[0].(string), b[0].(string)), strings.Compare(a[1].(string), b[1].(string)))
	})
	return t.insert(ctx, latchkey.ErrNoParent, `INSERT INTO memberships (group_id, identity_id)`, rows,
		` ON CONFLICT (group_id, identity_id) DO NOTHING`)
}

// TouchGroups marks groups changed, in statements of insertBatch groups
// in id order, the one order in which concurrent writers lock them.
func (t *tx) TouchGroups(ctx context.Context, groupIDs []string) error {
	for chunk := range slices.Chunk(slices.Sorted(slices.Values(groupIDs)), insertBatch) {
		var a args
		set := t.touch(&a)
		if _, err := t.exec(ctx, latchkey.ErrNoParent, `UPDATE user_groups SET `+set+` WHERE id IN `+t.in(&a, chunk), a...); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) RemoveMembers(ctx context.Context, groupID string, identityIDs []string) error {
	if len(identityIDs) == 0 {
		return nil
	}
	if err := t.touchGroup(ctx, groupID); err != nil {
		return err
	}
	var a args
	_, err := t.exec(ctx, latchkey.ErrInUse,
		`DELETE FROM memberships WHERE group_id = `+a.add(groupID)+` AND identity_id IN `+a.in(identityIDs), a...)
	return err
}

// leading scans a row's first columns into dest, and the rest as its
// caller asks, so that row scanners can be reused on wider rows.
type leading struct {
	rows *sql.Rows
	dest []any
}

func (l leading) Scan(dest ...any) error { return l.rows.Scan(append(l.dest, dest...)...) }

func (t *tx) MembersAmong(ctx context.Context, groupID string, identityIDs []string) ([]string, error) {
	var a args
	rows, err := t.r.QueryContext(ctx, `SELECT identity_id FROM memberships WHERE group_id = `+t.add(&a, groupID)+
		` AND identity_id IN `+t.in(&a, identityIDs)+` ORDER BY identity_id`, a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

func (t *tx) CountMembers(ctx context.Context, groupID string, max int) (int, error) {
	var n int
	err := t.r.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM memberships WHERE group_id = $1 LIMIT $2) m`,
		groupID, max+1).Scan(&n)
	return n, err
}

func (t *tx) RemoveAllMembers(ctx context.Context, groupID string) error {
	if err := t.touchGroup(ctx, groupID); err != nil {
		return err
	}
	_, err := t.exec(ctx, latchkey.ErrInUse, `DELETE FROM memberships WHERE group_id = $1`, groupID)
	return err
}

func (t *tx) GroupsOfIdentities(ctx context.Context, identityIDs []string) (map[string][]directory.Group, error) {
	var a args
	rows, err := t.r.QueryContext(ctx, `SELECT m.identity_id, `+qualified("g", groupColumns)+
		` FROM memberships m JOIN user_groups g ON g.id = m.group_id WHERE m.identity_id IN `+t.in(&a, identityIDs)+
		` ORDER BY g.id`, a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]directory.Group{}
	for rows.Next() {
		var identityID string
		var g directory.Group
		if err := scanGroup(leading{rows, []any{&identityID}}, &g); err != nil {
			return nil, err
		}
		out[identityID] = append(out[identityID], g)
	}
	return out, rows.Err()
}

func (t *tx) ListMembers(ctx context.Context, groupID string, opts latchkey.ListOptions) ([]directory.Identity, int, error) {
	q := listQuery{
		columns: qualified("i", identityColumns),
		from:    "memberships m JOIN identities i ON i.id = m.identity_id", key: "m.identity_id",
		filter: prefixed(identityFilter, "i"),
	}
	q.conds = []string{"m.group_id = " + q.args.add(groupID)}
	return t.listIdentities(ctx, q, opts)
}

func (t *tx) ListGroupsOfIdentity(ctx context.Context, identityID string, opts latchkey.ListOptions) ([]directory.Group, int, error) {
	q := listQuery{
		columns: qualified("g", groupColumns),
		from:    "memberships m JOIN user_groups g ON g.id = m.group_id", key: "m.group_id",
		filter: prefixed(groupFilter, "g"),
	}
	q.conds = []string{"m.identity_id = " + q.args.add(identityID)}
	return listOf(ctx, t, q, opts, nil, scanGroup)
}
