package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// sealedColumn is a column of secrets sealed with the master key
// (internal/secretbox). A new one belongs in sealedColumns, or a master key
// rotation leaves it behind.
type sealedColumn struct {
	table, key, column string
	where              string // which rows hold a sealed value; its parameters from $3
	args               []any
}

var sealedColumns = []sealedColumn{
	{"applications", "id", "client_secret_sealed", "client_secret_sealed <> ''", nil}, // '' for public clients
	{"signing_keys", "id", "private_key_sealed", "TRUE", nil},
	{"webhooks", "id", "secret_sealed", "TRUE", nil},
	{"sso_configs", "id", "secret_sealed", "secret_sealed <> ''", nil},                      // '' for configs without an upstream secret
	{"identity_providers", "id", "client_secret_sealed", "client_secret_sealed <> ''", nil}, // '' for PKCE-only clients
	{"saml_certificates", "id", "private_key_sealed", "TRUE", nil},
}

// Reseal passes every sealed secret to reseal and stores what it returns
// when it says the value changed: the columns of sealedColumns, then the
// named settings, in transactions of at most batch rows. A row that
// another writer changed since it was read is left as that writer made it.
// done is called after each committed batch with the table and the number
// of rows changed. An interrupted Reseal loses at most its open batch and
// may run again: what is sealed already comes back unchanged.
func (s *Store) Reseal(ctx context.Context, settings []string, batch int, reseal func(string) (string, bool, error), done func(table string, changed int)) error {
	if batch < 1 {
		return fmt.Errorf("reseal: a batch of %d rows", batch)
	}
	cols := slices.Clone(sealedColumns)
	for _, name := range settings {
		cols = append(cols, sealedColumn{"settings", "name", "value", "name = $3", []any{name}})
	}
	for _, c := range cols {
		for after, more := "", true; more; {
			var changed int
			err := s.update(ctx, func(t *tx) error {
				var err error
				after, more, changed, err = t.resealBatch(ctx, c, after, batch, reseal)
				return err
			})
			if err != nil {
				return err
			}
			done(c.table, changed)
		}
	}
	return nil
}

// resealBatch reseals the rows of c after the key after, at most batch of
// them, and returns the last key read, whether more may follow, and how
// many rows it changed.
func (t *tx) resealBatch(ctx context.Context, c sealedColumn, after string, batch int, reseal func(string) (string, bool, error)) (last string, more bool, changed int, err error) {
	rows, err := t.r.QueryContext(ctx, fmt.Sprintf(`SELECT %s, %s FROM %s WHERE %s > $1 AND %s ORDER BY %s LIMIT $2`,
		c.key, c.column, c.table, c.key, c.where, c.key), append([]any{after, batch}, c.args...)...)
	if err != nil {
		return "", false, 0, err
	}
	type row struct{ key, sealed string }
	var read []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.key, &r.sealed); err != nil {
			rows.Close()
			return "", false, 0, err
		}
		read = append(read, r)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return "", false, 0, err
	}
	for _, r := range read {
		resealed, ok, err := reseal(r.sealed)
		if err != nil {
			return "", false, 0, fmt.Errorf("%s %s: %w", c.table, r.key, err)
		}
		if !ok {
			continue
		}
		res, err := t.w.ExecContext(ctx, fmt.Sprintf(`UPDATE %s SET %s = $1 WHERE %s = $2 AND %s = $3`, c.table, c.column, c.key, c.column),
			resealed, r.key, r.sealed)
		if err != nil {
			return "", false, 0, err
		}
		if n, err := res.RowsAffected(); err != nil {
			return "", false, 0, err
		} else if n == 1 {
			changed++
		}
	}
	if len(read) == 0 {
		return after, false, changed, nil
	}
	return read[len(read)-1].key, len(read) == batch, changed, nil
}
