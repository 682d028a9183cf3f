package console_test

import (
	"context"
	"net/http"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/loadtest"
	"github.com/latchkey/latchkey/internal/testenv"
)

// benchIdentities is how many identities the page benchmark seeds in its
// realm: LATCHKEY_BENCH_IDENTITIES, else the 1,000,000.
func benchIdentities(b *testing.B) int {
	if v := os.Getenv("LATCHKEY_BENCH_IDENTITIES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatal(err)
		}
		return n
	}
	return 1_000_000
}

// BenchmarkConsolePages renders each main console page, signed in, over a
// realm of a million identities, and reports the p50 and p99 latency of a
// full request (routing, session check, service calls, template).
//
//	go test ./internal/console -run '^$' -bench ConsolePages -benchtime 300x -timeout 60m
func BenchmarkConsolePages(b *testing.B) {
	for _, engine := range testenv.Engines() {
		b.Run(engine.Name, func(b *testing.B) {
			e := start(b, engine.Name, "")
			n := benchIdentities(b)
			realm := e.api(b, "POST", "/realms", map[string]any{"realm": map[string]any{"display_name": "Million", "classification": "SECURE_CUSTOMER"}})["id"].(string)
			ids, err := loadtest.SeedIdentities(context.Background(), e.node.Store, e.tenant(), realm, n)
			if err != nil {
				b.Fatal(err)
			}
			if engine.Name == "postgres" {
				if err := loadtest.Settle(context.Background(), e.node.Config.Database, "identities"); err != nil {
					b.Fatal(err)
				}
			}
			mid := ids[len(ids)/2]
			group := e.api(b, "POST", "/realms/"+realm+"/groups", map[string]any{"group": map[string]any{"display_name": "Staff"}})["id"].(string)
			e.api(b, "POST", "/realms/"+realm+"/groups/"+group+":addMembers", map[string]any{"identity_ids": ids[:100]})
			base := "/console/realms/" + realm
			admin := "/console/realms/" + e.admin()
			pages := []struct{ name, path string }{
				{"identities", base + "/identities"},
				// One box searches three fields: "user05" matches 100,000
				// usernames and as many e-mail addresses, "Load User 5" names.
				{"identities-search", base + "/identities?q=user05"},
				{"identities-search-name", base + "/identities?q=Load+User+5"},
				{"identities-search-none", base + "/identities?q=nobody"},
				{"identities-search-next-page", base + "/identities?q=user05&after_key=user0500049&after=" + ids[500049%len(ids)]},
				{"identities-deep-page", base + "/identities?after_key=load+user+5&after=" + mid},
				{"identity", base + "/identities/" + mid},
				{"identity-groups", base + "/identities/" + mid + "/groups"},
				{"identity-passkeys", base + "/identities/" + mid + "/passkeys"},
				{"identity-binding-jobs", base + "/identities/" + mid + "/binding-jobs"},
				{"csv-upload", base + "/imports/new"},
				{"groups", base + "/groups"},
				{"group", base + "/groups/" + group},
				{"group-add-members-search", base + "/groups/" + group + "/members/add?q=user07"},
				{"applications", admin + "/applications"},
				{"authenticator-configs", admin + "/authenticator-configs"},
				{"policy", admin + "/policy"},
				{"branding", base + "/branding"},
				{"tokens", admin + "/tokens"},
				{"events", admin + "/events"},
				{"realms", "/console/realms"},
				{"realm-settings", base + "/settings"},
				{"getting-started", base + "/start"},
				{"email", base + "/email"},
				{"application-connect", admin + "/applications/" + e.node.Creds().ApplicationID},
			}
			for _, p := range pages {
				b.Run(p.name, func(b *testing.B) {
					var took []time.Duration
					for b.Loop() {
						start := time.Now()
						if got := e.get(b, p.path); got.status != http.StatusOK {
							b.Fatalf("%s: %d %s", p.path, got.status, excerpt(got.body))
						}
						took = append(took, time.Since(start))
					}
					slices.Sort(took)
					b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
					b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
				})
			}
		})
	}
}
