package httpapi_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
)

// pageIDs returns the ids of one page and its next_page_token ("" when the
// key is absent; present but empty is an error).
func pageIDs(t testing.TB, page map[string]any, key string) ([]string, string) {
	t.Helper()
	next, ok := page["next_page_token"]
	if ok {
		s, isString := next.(string)
		if !isString || s == "" {
			t.Fatalf("next_page_token %#v: want a non-empty string or no key", next)
		}
		return ids(items(t, page, key)), s
	}
	return ids(items(t, page, key)), ""
}

func TestPaging(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		api := e.api
		realm := newRealm(t, api, "Paging")
		base := "/realms/" + realm + "/identities"
		const n = 205 // more than the maximum page size of 200
		var created []string
		for i := range n {
			created = append(created, str(t, newIdentity(t, api, realm, fmt.Sprintf("user%03d", i)), "id"))
		}

		// The whole list, walked with page tokens alone.
		var walk []string
		page := api.list(t, base)
		for i := 0; ; i++ {
			got, next := pageIDs(t, page, "identities")
			if num(t, page, "total_size") != n {
				t.Errorf("page %d: total_size %v, want %d", i, page["total_size"], n)
			}
			if want := min(20, n-len(walk)); len(got) != want {
				t.Errorf("page %d has %d items, want %d", i, len(got), want)
			}
			walk = append(walk, got...)
			if next == "" {
				break
			}
			if i > n {
				t.Fatal("the pages never end")
			}
			page = api.list(t, base, "page_token", next)
		}
		assertSameSet(t, "walked identities", walk, created)
		if len(walk) != n {
			t.Fatalf("walked %d identities, want %d exactly once each", len(walk), n)
		}

		for _, tc := range []struct {
			name     string
			query    []string
			want     []string // the ids, in walk order
			wantNext bool
		}{
			{"default size", nil, walk[:20], true},
			{"page_size 0 is the default", []string{"page_size", "0"}, walk[:20], true},
			{"page_size 7", []string{"page_size", "7"}, walk[:7], true},
			{"page_size 200", []string{"page_size", "200"}, walk[:200], true},
			{"page_size 500 is clamped to 200", []string{"page_size", "500"}, walk[:200], true},
			{"skip", []string{"skip", "5", "page_size", "10"}, walk[5:15], true},
			{"skip to the last page", []string{"skip", "200"}, walk[200:], false},
			{"skip past the end", []string{"skip", "1000"}, nil, false},
			{"page_size covering the rest", []string{"skip", "195", "page_size", "10"}, walk[195:], false},
			{"page_size ending exactly at the end", []string{"skip", "185", "page_size", "20"}, walk[185:], false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := api.list(t, base, tc.query...)
				got, next := pageIDs(t, p, "identities")
				if !slices.Equal(got, tc.want) {
					t.Errorf("got %d ids %v\nwant %d %v", len(got), got, len(tc.want), tc.want)
				}
				if (next != "") != tc.wantNext {
					t.Errorf("next_page_token %q, want one: %v", next, tc.wantNext)
				}
				if num(t, p, "total_size") != n {
					t.Errorf("total_size %v, want %d", p["total_size"], n)
				}
			})
		}

		t.Run("page size is kept by the token and may be overridden", func(t *testing.T) {
			got, next := pageIDs(t, api.list(t, base, "page_size", "500"), "identities")
			if len(got) != 200 {
				t.Fatalf("%d items", len(got))
			}
			got, next2 := pageIDs(t, api.list(t, base, "page_token", next), "identities")
			if !slices.Equal(got, walk[200:]) || next2 != "" {
				t.Errorf("second page of 200: %v (next %q)", got, next2)
			}

			_, next = pageIDs(t, api.list(t, base, "page_size", "10"), "identities")
			got, next = pageIDs(t, api.list(t, base, "page_token", next), "identities")
			if !slices.Equal(got, walk[10:20]) {
				t.Errorf("second page of 10: %v", got)
			}
			got, _ = pageIDs(t, api.list(t, base, "page_token", next, "page_size", "30"), "identities")
			if !slices.Equal(got, walk[20:50]) {
				t.Errorf("third page, resized to 30: %v", got)
			}
			// skip is not kept by the token: it applies after the token's position.
			got, _ = pageIDs(t, api.list(t, base, "page_token", next, "skip", "5"), "identities")
			if !slices.Equal(got, walk[25:35]) {
				t.Errorf("page_token + skip=5: %v, want %v", got, walk[25:35])
			}
		})

		t.Run("filter is kept by the token", func(t *testing.T) {
			const f = `traits.username sw "USER1"` // user100 … user199
			var all []string
			page := api.list(t, base, "filter", f, "page_size", "30")
			for {
				got, next := pageIDs(t, page, "identities")
				if num(t, page, "total_size") != 100 {
					t.Errorf("total_size %v, want 100", page["total_size"])
				}
				all = append(all, got...)
				if next == "" {
					break
				}
				if len(all) > n {
					t.Fatal("the pages never end")
				}
				if len(all) == 30 { // once with the same filter repeated, which is allowed
					page = api.list(t, base, "page_token", next, "filter", f)
				} else {
					page = api.list(t, base, "page_token", next)
				}
			}
			assertSameSet(t, "filtered walk", all, created[100:200])

			_, next := pageIDs(t, api.list(t, base, "filter", f, "page_size", "5"), "identities")
			assertInvalid(t, api.do(t, "GET", base+queryString("page_token", next, "filter", `traits.username sw "user2"`), nil), "filter", "")
			assertInvalid(t, api.do(t, "GET", base+queryString("page_token", next, "filter", ""), nil), "filter", "")
			_, next = pageIDs(t, api.list(t, base, "page_size", "5"), "identities")
			assertInvalid(t, api.do(t, "GET", base+queryString("page_token", next, "filter", f), nil), "filter", "")

			p := api.list(t, base, "filter", `traits.username sw "user00"`)
			if got, next := pageIDs(t, p, "identities"); len(got) != 10 || next != "" || num(t, p, "total_size") != 10 {
				t.Errorf("user00x: %d items, next %q, total_size %v", len(got), next, p["total_size"])
			}
		})

		t.Run("invalid parameters", func(t *testing.T) {
			_, next := pageIDs(t, api.list(t, base), "identities")
			for _, tc := range []struct {
				query         []string
				field, reason string
			}{
				{[]string{"page_token", "garbage!"}, "page_token", "invalid page token"},
				{[]string{"page_token", "Z2FyYmFnZQ"}, "page_token", "invalid page token"}, // base64 of "garbage"
				{[]string{"page_token", "bnVsbA"}, "page_token", "invalid page token"},     // base64 of "null"
				{[]string{"page_token", next[:len(next)/2]}, "page_token", "invalid page token"},
				{[]string{"page_size", "-1"}, "page_size", ""},
				{[]string{"page_size", "ten"}, "page_size", ""},
				{[]string{"page_size", "1.5"}, "page_size", ""},
				{[]string{"page_size", "99999999999"}, "page_size", ""},
				{[]string{"skip", "-1"}, "skip", ""},
				{[]string{"skip", "x"}, "skip", ""},
			} {
				t.Run(fmt.Sprint(tc.query), func(t *testing.T) {
					assertInvalid(t, api.do(t, "GET", base+queryString(tc.query...), nil), tc.field, tc.reason)
				})
			}
		})

		t.Run("groups and realms page too", func(t *testing.T) {
			var groups []string
			for i := range 23 {
				groups = append(groups, newGroup(t, api, realm, fmt.Sprintf("Group %02d", i)))
			}
			got := api.listAll(t, "/realms/"+realm+"/groups", "groups")
			if len(got) != 23 {
				t.Errorf("walked %d groups, want 23 exactly once each", len(got))
			}
			assertSameSet(t, "groups", ids(got), groups)
			if p := api.list(t, "/realms/"+realm+"/groups"); len(items(t, p, "groups")) != 20 || num(t, p, "total_size") != 23 {
				t.Errorf("first page of groups: %d items, total_size %v", len(items(t, p, "groups")), p["total_size"])
			}

			realms := []string{e.adminRealm(), realm}
			for i := range 3 {
				realms = append(realms, newRealm(t, api, fmt.Sprintf("Extra %d", i)))
			}
			var walked []string
			p := api.list(t, "/realms", "page_size", "2")
			for {
				got, next := pageIDs(t, p, "realms")
				if len(got) > 2 {
					t.Errorf("page of %d realms, want at most 2", len(got))
				}
				walked = append(walked, got...)
				if next == "" || len(walked) > 10 {
					break
				}
				p = api.list(t, "/realms", "page_token", next)
			}
			if len(walked) != len(realms) {
				t.Errorf("walked %d realms, want %d", len(walked), len(realms))
			}
			assertSameSet(t, "realms", walked, realms)
		})
	})
}

func TestFilters(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		api := e.api
		realm := newRealm(t, api, "Filters")
		base := "/realms/" + realm + "/identities"

		byName := map[string]string{} // username → id
		add := func(username, display string, traits ...string) {
			tr := map[string]any{"type": "traits_v0", "username": username}
			for i := 0; i+1 < len(traits); i += 2 {
				tr[traits[i]] = traits[i+1]
			}
			m := api.post(t, base, map[string]any{"identity": map[string]any{"display_name": display, "traits": tr}})
			byName[username] = str(t, m, "id")
		}
		add("Alice", "Alice Liddell", "primary_email_address", "alice@example.com", "external_id", `50%_off"quote`)
		add("bob", "Bob Builder", "primary_email_address", "bob@builder.org", "external_id", "bob_1")
		add("carol.x", "Carol", "primary_email_address", "carol@example.com")
		add("abc", "Plain ABC", "external_id", "axb")
		add("a_c", "Under Score", "external_id", "a_b")
		add(`say"hi`, "Quote", "external_id", `a\b`)
		add("pct", "Percent", "external_id", "a%b")
		api.patch(t, base+"/"+byName["carol.x"], map[string]any{"identity": map[string]any{"status": "suspended"}})
		everyone := func(except ...string) []string {
			var out []string
			for u := range byName {
				if !slices.Contains(except, u) {
					out = append(out, u)
				}
			}
			return out
		}

		usernames := func(t *testing.T, filter string) []string {
			t.Helper()
			p := api.list(t, base, "filter", filter)
			var out []string
			for _, i := range items(t, p, "identities") {
				out = append(out, str(t, obj(t, i, "traits"), "username"))
			}
			if num(t, p, "total_size") != len(out) {
				t.Errorf("total_size %v, want %d", p["total_size"], len(out))
			}
			return out
		}

		t.Run("identities", func(t *testing.T) {
			for _, tc := range []struct {
				filter string
				want   []string
			}{
				{`traits.username eq "alice"`, []string{"Alice"}},
				{`traits.username eq "ALICE"`, []string{"Alice"}},
				{`TRAITS.USERNAME eq "bob"`, []string{"bob"}},
				{`traits.username ne "alice"`, everyone("Alice")},
				{`display_name co "BUILD"`, []string{"bob"}},
				{`traits.username sw "CAR"`, []string{"carol.x"}},
				{`traits.username ew "C"`, []string{"abc", "a_c"}},
				{`traits.primary_email_address ew "@EXAMPLE.COM"`, []string{"Alice", "carol.x"}},
				{`traits.primary_email_address eq "Bob@Builder.org"`, []string{"bob"}},
				{`traits.external_id pr`, everyone("carol.x")},
				{`not (traits.external_id pr)`, []string{"carol.x"}},
				{`status eq "suspended"`, []string{"carol.x"}},
				{`status eq "active"`, everyone("carol.x")},
				{`id eq "` + byName["bob"] + `"`, []string{"bob"}},
				{`traits.username eq "alice" or traits.username eq "bob"`, []string{"Alice", "bob"}},
				{`traits.primary_email_address ew "example.com" and status eq "suspended"`, []string{"carol.x"}},
				{`not (traits.username eq "alice")`, everyone("Alice")},
				{`(traits.username eq "alice" or traits.username eq "bob") and display_name co "builder"`, []string{"bob"}},
				{`traits.username eq "alice" or (traits.username eq "bob" and status eq "suspended")`, []string{"Alice"}},
				{`not (traits.username eq "alice" or traits.username eq "bob") and traits.external_id pr`, []string{"abc", "a_c", `say"hi`, "pct"}},
				{`traits.username eq "nobody"`, nil},
				// Values are literals: no LIKE wildcards, escapes as JSON's.
				{`traits.external_id eq "50%_off\"quote"`, []string{"Alice"}},
				{`traits.external_id co "%"`, []string{"Alice", "pct"}},
				{`traits.external_id co "%_"`, []string{"Alice"}},
				{`traits.external_id co "_"`, []string{"Alice", "bob", "a_c"}},
				{`traits.external_id sw "a_"`, []string{"a_c"}},
				{`traits.external_id sw "a%"`, []string{"pct"}},
				{`traits.external_id ew "%b"`, []string{"pct"}},
				{`traits.external_id eq "a\\b"`, []string{`say"hi`}},
				{`traits.external_id co "\""`, []string{"Alice"}},
				{`traits.username sw "a_"`, []string{"a_c"}},
				{`traits.username eq "say\"hi"`, []string{`say"hi`}},
				{`traits.username eq "x' OR '1'='1"`, nil},
				{`display_name co "'"`, nil},
			} {
				t.Run(tc.filter, func(t *testing.T) { assertSameSet(t, "usernames", usernames(t, tc.filter), tc.want) })
			}
		})

		invalid := []string{
			`traits.username eq`,
			`traits.username eq "alice" and`,
			`(traits.username eq "alice"`,
			`traits.username eq "alice")`,
			`traits.username eq "unterminated`,
			`traits.username gt "a"`,
			`traits.username eq 5`,
			`traits.username eq true`,
			`emails[type eq "work"]`,
			`"alice"`,
			`and`,
		}
		t.Run("invalid identity filters", func(t *testing.T) {
			for _, f := range append(invalid, `traits.nick_name eq "x"`, `description eq "x"`, `traits eq "x"`) {
				t.Run(f, func(t *testing.T) {
					assertInvalid(t, api.do(t, "GET", base+queryString("filter", f), nil), "filter", "")
				})
			}
			assertInvalid(t, api.do(t, "GET", base+queryString("filter", `traits.nick_name eq "x"`), nil), "filter", "unsupported attribute…")
		})

		t.Run("groups", func(t *testing.T) {
			gids := map[string]string{}
			for _, name := range []string{"Admins", "Engineering", "Eng_Leads", "Sales"} {
				gids[name] = newGroup(t, api, realm, name)
			}
			gbase := "/realms/" + realm + "/groups"
			for _, tc := range []struct {
				filter string
				want   []string
			}{
				{`display_name eq "admins"`, []string{"Admins"}},
				{`display_name sw "ENG"`, []string{"Engineering", "Eng_Leads"}},
				{`display_name sw "eng_"`, []string{"Eng_Leads"}},
				{`display_name co "_"`, []string{"Eng_Leads"}},
				{`display_name ew "ing" or display_name eq "Admins"`, []string{"Engineering", "Admins"}},
				{`not (display_name sw "eng") and display_name ne "sales"`, []string{"Admins"}},
				{`id eq "` + gids["Sales"] + `"`, []string{"Sales"}},
				{`display_name pr`, []string{"Admins", "Engineering", "Eng_Leads", "Sales"}},
			} {
				t.Run(tc.filter, func(t *testing.T) {
					p := api.list(t, gbase, "filter", tc.filter)
					var got []string
					for _, g := range items(t, p, "groups") {
						got = append(got, str(t, g, "display_name"))
					}
					assertSameSet(t, "groups", got, tc.want)
					if num(t, p, "total_size") != len(tc.want) {
						t.Errorf("total_size %v", p["total_size"])
					}
				})
			}
			for _, f := range append(invalid, `description eq "x"`, `traits.username eq "x"`) {
				assertInvalid(t, api.do(t, "GET", gbase+queryString("filter", f), nil), "filter", "")
			}
		})

		t.Run("realms", func(t *testing.T) {
			alpha := newRealm(t, api, "Alpha_Realm")
			alphaBeta := newRealm(t, api, "AlphaBeta")
			for _, tc := range []struct {
				filter string
				want   []string
			}{
				{`display_name co "ALPHA"`, []string{alpha, alphaBeta}},
				{`display_name sw "alpha_"`, []string{alpha}},
				{`display_name eq "latchkey admin"`, []string{e.adminRealm()}},
				{`id eq "` + realm + `" or display_name ew "BETA"`, []string{realm, alphaBeta}},
				{`not (display_name co "alpha")`, []string{e.adminRealm(), realm}},
			} {
				t.Run(tc.filter, func(t *testing.T) {
					p := api.list(t, "/realms", "filter", tc.filter)
					assertSameSet(t, "realms", ids(items(t, p, "realms")), tc.want)
					if num(t, p, "total_size") != len(tc.want) {
						t.Errorf("total_size %v", p["total_size"])
					}
				})
			}
			for _, f := range append(invalid, `classification eq "SECURE_CUSTOMER"`) {
				assertInvalid(t, api.do(t, "GET", "/realms"+queryString("filter", f), nil), "filter", "")
			}
		})

		t.Run("long filter", func(t *testing.T) {
			f := `traits.username eq "alice"`
			for len(f) < 5000 {
				f += ` or traits.username eq "alice"`
			}
			resp := api.do(t, "GET", base+queryString("filter", f), nil)
			if resp.Status != http.StatusBadRequest {
				t.Errorf("a %d-byte filter: status %d", len(f), resp.Status)
			}
		})
	})
}
