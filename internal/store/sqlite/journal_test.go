package sqlite

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestStatementJournal: the process's statement journals stay in memory
// (SQLite took the setting before any connection opened), and a statement
// whose journal outgrows SQLite's default 64 KiB still undoes just itself
// when it fails: the transaction keeps its earlier rows.
func TestStatementJournal(t *testing.T) {
	if !journalsInMemory {
		t.Fatal("SQLite refused SQLITE_CONFIG_STMTJRNL_SPILL")
	}
	db, err := sql.Open("sqlite", dsn(filepath.Join(t.TempDir(), "j.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE t (id TEXT PRIMARY KEY, padding TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`INSERT INTO t VALUES ('kept', '')`); err != nil {
		t.Fatal(err)
	}
	// 2,000 rows of 200 bytes change some 100 pages (400 KiB) before the
	// last row, a duplicate, fails the statement.
	var values []string
	for i := range 2000 {
		values = append(values, fmt.Sprintf("('%06d', '%s')", i, strings.Repeat("x", 200)))
	}
	values = append(values, "('kept', '')")
	if _, err := tx.Exec(`INSERT INTO t VALUES ` + strings.Join(values, ", ")); err == nil || !strings.Contains(err.Error(), "UNIQUE") {
		t.Fatalf("insert with a duplicate: %v", err)
	}
	var n int
	if err := tx.QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d rows after the failed statement, want the 1 before it", n)
	}
}
