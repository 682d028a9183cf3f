package httpapi_test

import (
	"context"
	"database/sql"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/loadtest"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
)

// seedEvents inserts n events of a realm straight into n's database, in
// statements of up to a million rows that make them (generate_series on
// PostgreSQL, a recursive CTE on SQLite), ids in time order as the
// audit package makes them. The table's secondary indexes are dropped
// meanwhile and built again after: sorting once is much faster than
// inserting into six indexes row by row. A quarter each are sign_in.started,
// sign_in.allowed, token.issued and identity.update; identity_id is one
// of 5,000 ("seed-identity-0"…), application_id one of 50.
func seedEvents(t testing.TB, n *testenv.Node, tenantID, realmID string, count int) {
	t.Helper()
	ctx := context.Background()
	driver, dsn := "pgx", n.Config.Database
	series := `SELECT g FROM generate_series($4::bigint, $5::bigint) g`
	id := `lpad(to_hex($3::bigint + g), 13, '0') || lpad(to_hex(g), 11, '0')`
	indexes := `SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'events' AND indexname <> 'events_pkey'`
	if dsn == "" {
		indexes = `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' AND sql IS NOT NULL`
		driver = "sqlite"
		// A bigger page cache than the node's, for building the indexes.
		dsn = "file:" + filepath.Join(n.Config.DataDir, server.DatabaseFile) +
			"?_pragma=busy_timeout(10000)&_pragma=cache_size(-262144)&_txlock=immediate"
		series = `WITH RECURSIVE s(g) AS (SELECT $4 UNION ALL SELECT g + 1 FROM s WHERE g < $5) SELECT g FROM s`
		id = `printf('%013x%011x', $3 + g, g)`
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // one session, whose settings stay
	if driver == "pgx" {
		if _, err := db.ExecContext(ctx, "SET maintenance_work_mem = '2GB'"); err != nil {
			t.Fatal(err)
		}
	}
	var names, defs []string
	rows, err := db.QueryContext(ctx, indexes)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			t.Fatal(err)
		}
		names, defs = append(names, name), append(defs, def)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	phase := time.Now()
	logPhase := func(what string) {
		t.Logf("seed events: %s in %v", what, time.Since(phase).Round(100*time.Millisecond))
		phase = time.Now()
	}
	for _, name := range names {
		if _, err := db.ExecContext(ctx, "DROP INDEX "+name); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now().Add(-time.Duration(count) * time.Microsecond).UnixMicro()
	for lo := 0; lo < count; lo += 1_000_000 {
		hi := min(lo+1_000_000, count) - 1
		_, err := db.ExecContext(ctx, `INSERT INTO events (id, tenant_id, realm_id, actor_type, actor_id, action,
			resource_type, resource_id, request_id, client_ip, create_time, correlation_id, identity_id, application_id,
			credential_id, user_agent, outcome, reason, grant_type, actor_display_name, resource_display_name, changes)
			SELECT `+id+`, $1, $2, 'application', 'seed',
				CASE g % 4 WHEN 0 THEN 'sign_in.started' WHEN 1 THEN 'sign_in.allowed' WHEN 2 THEN 'token.issued' ELSE 'identity.update' END,
				'Identity', 'seed-' || g, '', '', $3 + g, '', 'seed-identity-' || (g % 5000), 'seed-app-' || (g % 50),
				'', '', '', '', '', '', '', ''
			FROM (`+series+`) series`, tenantID, realmID, start, lo, hi)
		if err != nil {
			t.Fatalf("seed events %d to %d: %v", lo, hi, err)
		}
	}
	logPhase("rows inserted")
	for i, def := range defs {
		if _, err := db.ExecContext(ctx, def); err != nil {
			t.Fatal(err)
		}
		logPhase("index " + names[i] + " built")
	}
	if driver == "pgx" {
		// What autovacuum would do soon after: statistics and visibility map.
		if err := loadtest.Settle(ctx, dsn, "events"); err != nil {
			t.Fatal(err)
		}
		logPhase("vacuumed, analyzed, checkpointed")
	}
}

// TestEventsTotalCapped: above audit.MaxTotal matches, the events list
// says total_size audit.MaxTotal and total_size_capped; at or below, the
// exact total and no flag.
func TestEventsTotalCapped(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		realm := newRealm(t, e.api, "Busy")
		const seeded = audit.MaxTotal + 8 // g from 0: a quarter each of every action, sign_in.* a half
		seedEvents(t, e.node, e.tenant(), realm, seeded)
		identity7 := 0
		for g := range seeded {
			if g%5000 == 7 {
				identity7++
			}
		}
		for _, tc := range []struct {
			filter string
			total  float64
			capped bool
		}{
			{"", audit.MaxTotal, true},
			{`action sw "sign_in."`, seeded / 2, false},
			{`identity_id eq "seed-identity-7"`, float64(identity7), false},
		} {
			p := e.api.list(t, "/realms/"+realm+"/events", "filter", tc.filter, "page_size", "2")
			if p["total_size"] != tc.total || (p["total_size_capped"] == true) != tc.capped {
				t.Errorf("%q: total_size %v, total_size_capped %v; want %v, %v", tc.filter, p["total_size"], p["total_size_capped"], tc.total, tc.capped)
			}
		}
	})
}

// BenchmarkEventsList lists a realm's events over HTTP from one client
// (page_size 20, newest first) once LATCHKEY_BENCH_EVENTS events (default
// 100,000; the scale is 10,000,000) are seeded: the first page, a
// page filtered by identity_id, and one by action sw "sign_in.", in turn.
// It reports each one's p50 and p99 and this process's CPU per request
// (PostgreSQL's backend is not in it).
//
//	LATCHKEY_BENCH_EVENTS=10000000 go test ./internal/httpapi/ -run '^$' -bench EventsList -benchtime 300x -timeout 2h
func BenchmarkEventsList(b *testing.B) {
	count := 100_000
	if v := os.Getenv("LATCHKEY_BENCH_EVENTS"); v != "" {
		var err error
		if count, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	queries := []struct{ name, filter string }{
		{"first-page", ""},
		{"identity", `identity_id eq "seed-identity-42"`},
		{"action-sw", `action sw "sign_in."`},
	}
	for _, eng := range testenv.Engines() {
		b.Run(eng.Name, func(b *testing.B) {
			c, realm, _, _, n := benchNode(b, eng.Name, 0)
			seeded := time.Now()
			seedEvents(b, n, c.tenant, realm, count)
			b.Logf("%d events seeded in %v", count, time.Since(seeded).Round(time.Second))
			latencies := make([][]time.Duration, len(queries))
			startCPU := processCPU()
			b.ResetTimer()
			for b.Loop() {
				for i, q := range queries {
					t0 := time.Now()
					resp := c.do(b, "GET", "/realms/"+realm+"/events?"+queryString("filter", q.filter)[1:], nil)
					latencies[i] = append(latencies[i], time.Since(t0))
					if resp.Status != http.StatusOK {
						b.Fatalf("%s: %d %s", q.name, resp.Status, resp.Body)
					}
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(processCPU()-startCPU)/float64(b.N*len(queries))/1e6, "cpu-ms/req")
			for i, q := range queries {
				l := latencies[i]
				slices.Sort(l)
				b.ReportMetric(float64(l[len(l)/2])/1e6, q.name+"-p50-ms")
				b.ReportMetric(float64(l[len(l)*99/100])/1e6, q.name+"-p99-ms")
			}
		})
	}
}
