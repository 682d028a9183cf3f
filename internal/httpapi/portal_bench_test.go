package httpapi_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/sso"
	"github.com/latchkey/latchkey/internal/testenv"
)

// BenchmarkAppPortal serves the app portal page over HTTP to a signed-in
// identity, one request at a time, in a realm of 1,000 SSO configs (600
// bookmarks with icons, 300 SAML, 100 OIDC applications) on each engine:
// 100 are assigned to the identity directly, 400 through its group, 500
// to another group. Each page lists 500 tiles. It reports p50 and p99
// latency and the CPU of this process (server and client) per page.
//
//	go test ./internal/httpapi/ -run '^$' -bench AppPortal -benchtime 2000x -cpu 2
func BenchmarkAppPortal(b *testing.B) {
	for _, eng := range testenv.Engines() {
		b.Run(eng.Name, func(b *testing.B) {
			c, realm, _, ids, n := benchNode(b, eng.Name, 1)
			ctx, tenant, ada := b.Context(), c.tenant, ids[0]
			staff, others := newGroup(b, c, realm, "Staff"), newGroup(b, c, realm, "Others")
			c.ok(b, "POST", "/realms/"+realm+"/groups/"+staff+":addMembers", map[string]any{"identity_ids": []string{ada}})
			for i := range 1000 {
				var p map[string]any
				switch {
				case i%10 < 6:
					p = map[string]any{"type": "bookmark", "login_link": fmt.Sprintf("https://app%d.example/", i), "icon": fmt.Sprintf("https://app%d.example/icon.png", i)}
				case i%10 < 9:
					p = map[string]any{"type": "saml", "acs_url": fmt.Sprintf("https://sp%d.example/acs", i), "audience_url": fmt.Sprintf("https://sp%d.example", i)}
				default:
					p = map[string]any{"type": "generic_oidc", "redirect_uris": []string{fmt.Sprintf("https://rp%d.example/cb", i)},
						"scopes": []string{"openid"}, "confidentiality": "confidential", "pkce": "s256"}
				}
				raw, _ := json.Marshal(p)
				name := fmt.Sprintf("App %04d", i)
				cfg, err := n.SSO.Create(ctx, tenant, realm, sso.In{DisplayName: &name, Payload: raw})
				if err != nil {
					b.Fatal(err)
				}
				switch {
				case i < 100:
					err = n.SSO.AddIdentities(ctx, tenant, realm, cfg.ID, []string{ada})
				case i < 500:
					err = n.SSO.AddGroups(ctx, tenant, realm, cfg.ID, []string{staff})
				default:
					err = n.SSO.AddGroups(ctx, tenant, realm, cfg.ID, []string{others})
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			_, cookie, err := n.Sessions.Start(ctx, session.SignIn{TenantID: tenant, RealmID: realm, IdentityID: ada, CredentialID: "bench",
				AMR: []string{"pop"}, ACR: "phr"}, nil)
			if err != nil {
				b.Fatal(err)
			}
			req, _ := http.NewRequest("GET", n.URL+"/v1/tenants/"+tenant+"/realms/"+realm+"/portal", nil)
			req.AddCookie(&http.Cookie{Name: session.CookieName, Value: cookie})
			timed(b, func() {
				resp, err := pooledHTTP.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || strings.Count(string(body), "<li><a ") != 500 {
					b.Fatalf("the portal: %d, %d tiles", resp.StatusCode, strings.Count(string(body), "<li><a "))
				}
			})
		})
	}
}
