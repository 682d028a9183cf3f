package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestGroups(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		realm := e.api(t, "POST", "/realms", map[string]any{"realm": map[string]any{"display_name": "Staff", "classification": "SECURE_WORKFORCE"}})["id"].(string)
		base := "/console/realms/" + realm + "/groups"
		ada := e.api(t, "POST", "/realms/"+realm+"/identities", map[string]any{"identity": map[string]any{
			"display_name": "Ada", "traits": map[string]any{"username": "ada", "primary_email_address": "ada@example.com"}}})["id"].(string)

		// A refused field is shown on its field, with what was typed kept.
		p := e.post(t, base, url.Values{"display_name": {""}, "description": {"Those who count"}})
		wantPage(t, p, http.StatusUnprocessableEntity, `id="e-display_name"`, `value="Those who count"`)
		p = e.follow(t, base, url.Values{"display_name": {"Engineers"}, "description": {"Those who build"}})
		wantPage(t, p, http.StatusOK, "Group Engineers created.", `value="Those who build"`)
		// The same name again, in another case, is refused on the name field.
		p = e.post(t, base, url.Values{"display_name": {"ENGINEERS"}})
		wantPage(t, p, http.StatusUnprocessableEntity, `id="e-display_name"`, "group display name already exists", `value="ENGINEERS"`)

		groups := e.api(t, "GET", "/realms/"+realm+"/groups", nil)["groups"].([]any)
		if len(groups) != 1 {
			t.Fatalf("the API lists %d groups", len(groups))
		}
		id := groups[0].(map[string]any)["id"].(string)
		e.follow(t, base, url.Values{"display_name": {"Accountants"}})
		list := e.get(t, base+"?q=eng")
		wantPage(t, list, http.StatusOK, ">Engineers<")
		if strings.Contains(list.body, ">Accountants<") {
			t.Fatal("the search for eng lists Accountants")
		}

		// Edit.
		p = e.follow(t, base+"/"+id, url.Values{"display_name": {"Builders"}, "description": {"Those who build"}})
		wantPage(t, p, http.StatusOK, "Saved.", `value="Builders"`)
		if got := e.api(t, "GET", "/realms/"+realm+"/groups/"+id, nil); got["display_name"] != "Builders" {
			t.Fatalf("the API shows %v", got)
		}
		p = e.post(t, base+"/"+id, url.Values{"display_name": {"Accountants"}, "description": {"typed"}})
		wantPage(t, p, http.StatusUnprocessableEntity, `id="e-display_name"`, `value="typed"`)

		// Add a member found by the search, then remove it.
		wantPage(t, e.get(t, base+"/"+id+"/members/add?q=ada%40"), http.StatusOK, `name="identity_id" value="`+ada+`"`)
		// The live search gets the results alone.
		req, _ := http.NewRequest("GET", e.url+base+"/"+id+"/members/add?q=nobody", nil)
		req.Header.Set("HX-Request", "true")
		req.Header.Set("HX-Target", "results")
		frag := e.do(t, req)
		wantPage(t, frag, http.StatusOK, "No identity's name, username or e-mail address starts with “nobody”.")
		if strings.Contains(frag.body, "<html") {
			t.Fatalf("the live search answers the whole page: %s", excerpt(frag.body))
		}
		p = e.follow(t, base+"/"+id+"/members", url.Values{"identity_id": {ada}, "q": {"ada@"}})
		wantPage(t, p, http.StatusOK, "ada added to Builders.", `value="ada@"`)
		members := e.api(t, "GET", "/realms/"+realm+"/groups/"+id+":listMembers", nil)["identities"].([]any)
		if len(members) != 1 || members[0].(map[string]any)["id"] != ada {
			t.Fatalf("the API lists members %v", members)
		}
		wantPage(t, e.get(t, base+"/"+id), http.StatusOK, `href="/console/realms/`+realm+`/identities/`+ada+`"`)
		// Adding a member again says so; several are added at once.
		p = e.follow(t, base+"/"+id+"/members", url.Values{"identity_id": {ada}, "q": {"ada@"}})
		wantPage(t, p, http.StatusOK, "ada is already a member of Builders.")
		grace := e.api(t, "POST", "/realms/"+realm+"/identities", map[string]any{"identity": map[string]any{"display_name": "Grace", "traits": map[string]any{"type": "traits_v0", "username": "grace"}}})["id"].(string)
		p = e.follow(t, base+"/"+id+"/members", url.Values{"identity_id": {ada, grace}})
		wantPage(t, p, http.StatusOK, "1 identity added to Builders. 1 of those selected already were members.")
		wantPage(t, e.get(t, base+"?q=buil"), http.StatusOK, `<td data-members>2</td>`)
		e.follow(t, base+"/"+id+"/members/"+grace+"/remove", url.Values{})

		// A group with members is refused deletion, with the reason.
		p = e.post(t, base+"/"+id+"/delete", url.Values{"confirm": {"Builders"}})
		wantPage(t, p, http.StatusConflict, "Group has children")

		p = e.follow(t, base+"/"+id+"/members/"+ada+"/remove", url.Values{})
		wantPage(t, p, http.StatusOK, "ada removed from Builders.", "This group has no members.")
		if members := e.api(t, "GET", "/realms/"+realm+"/groups/"+id+":listMembers", nil)["identities"].([]any); len(members) != 0 {
			t.Fatalf("the API still lists members %v", members)
		}

		// Delete with the typed name only.
		p = e.post(t, base+"/"+id+"/delete", url.Values{"confirm": {"Accountants"}})
		wantPage(t, p, http.StatusUnprocessableEntity, "Type the name exactly")
		e.api(t, "GET", "/realms/"+realm+"/groups/"+id, nil)
		p = e.follow(t, base+"/"+id+"/delete", url.Values{"confirm": {"Builders"}})
		wantPage(t, p, http.StatusOK, "Group Builders deleted.")
		wantPage(t, e.get(t, base+"/"+id), http.StatusNotFound, "Group not found: it may have been deleted meanwhile.")
	})
}
