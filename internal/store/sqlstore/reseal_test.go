package sqlstore

import (
	"io/fs"
	"regexp"
	"slices"
	"testing"
)

// TestEverySealedColumnIsResealed: a column whose name ends in _sealed, in
// any migration, is in sealedColumns, so that a master key rotation
// re-encrypts it; a sealed column named otherwise must be added by hand.
func TestEverySealedColumnIsResealed(t *testing.T) {
	sealedName := regexp.MustCompile(`\b\w+_sealed\b`)
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migrations: %v", err)
	}
	var known []string
	for _, c := range sealedColumns {
		known = append(known, c.column)
	}
	for _, f := range files {
		b, _ := migrations.ReadFile(f)
		for _, col := range sealedName.FindAllString(string(b), -1) {
			if !slices.Contains(known, col) {
				t.Errorf("%s: column %s is not in sealedColumns: keys rotate-master would leave it sealed with the old key", f, col)
			}
		}
	}
}
