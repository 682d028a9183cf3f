package sqlstore_test

import (
	"database/sql"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/latchkey/latchkey/internal/store/sqlstore"
	"github.com/latchkey/latchkey/internal/testenv"
)

// TestSessionsByID: the statements that read, use and renew a session,
// and that finish sign-ins, find their rows by primary key in PostgreSQL's
// generic plan too, the one a prepared statement keeps after its first
// runs. A generic plan made while the table was small once took
// sessions_absolute_expiry instead and scanned every live session to find
// one.
func TestSessionsByID(t *testing.T) {
	ctx := t.Context()
	db, err := sql.Open("pgx", testenv.MigratedPostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx) // SET and PREPARE hold for one connection
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET plan_cache_mode = force_generic_plan"); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]struct {
		query  string
		params int
		key    string
	}{
		"get_session": {sqlstore.GetSession, 1, "sessions_pkey"}, "use_session": {sqlstore.UseSession, 2, "sessions_pkey"},
		"get_session_with_identity": {sqlstore.GetSessionWithIdentity, 1, "sessions_pkey"},
		"record_application":        {sqlstore.RecordSessionApplication, 3, "sessions_pkey"},
		"renew_session":             {sqlstore.RenewSession, 10, "sessions_pkey"},
		"finish_sign_ins":           {sqlstore.FinishAuthRequests, 30, "auth_requests_pkey"},
	} {
		if _, err := conn.ExecContext(ctx, "PREPARE "+name+" AS "+s.query); err != nil {
			t.Fatal(err)
		}
		// Untyped literals take each parameter's type.
		args := strings.TrimSuffix(strings.Repeat("'0', ", s.params), ", ")
		rows, err := conn.QueryContext(ctx, "EXPLAIN EXECUTE "+name+"("+args+")")
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, line)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		text := strings.Join(plan, "\n")
		byKey := strings.Contains(text, "Index Scan using "+s.key) || strings.Contains(text, "Bitmap Index Scan on "+s.key)
		if !byKey || strings.Contains(text, "Seq Scan") {
			t.Errorf("%s: generic plan\n%s", name, text)
		}
	}
}
