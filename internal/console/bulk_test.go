package console_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/loadtest"
)

// TestBulkActions: the list's checkboxes and "all that match" start jobs
// whose page shows their progress and outcome; refusals are shown on the
// bulk page; the action's scopes are needed; another realm's job is not
// found.
func TestBulkActions(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		realm := e.api(t, "POST", "/realms", map[string]any{"realm": map[string]any{"display_name": "Bulk", "classification": "SECURE_WORKFORCE"}})["id"].(string)
		ids, err := loadtest.SeedIdentities(t.Context(), e.node.Store, e.tenant(), realm, 30)
		if err != nil {
			t.Fatal(err)
		}
		base := "/console/realms/" + realm
		status := func(id string) string {
			return e.api(t, "GET", "/realms/"+realm+"/identities/"+id, nil)["status"].(string)
		}

		// Nothing ticked: back to the list, saying what to do.
		p := e.follow(t, base+"/identities/bulk", url.Values{"action": {"suspend"}})
		wantPage(t, p, http.StatusOK, "Tick the identities to act on first")

		// Two ticked: the bulk page, then the job.
		p = e.post(t, base+"/identities/bulk", url.Values{"action": {"suspend"}, "id": {ids[0], ids[1]}})
		wantPage(t, p, http.StatusOK, "Suspend 2 identities", `name="id" value="`+ids[0]+`"`)
		job := runJob(t, e, base+"/identities/bulk/run", url.Values{"action": {"suspend"}, "id": {ids[0], ids[1]}})
		wantPage(t, job, http.StatusOK, "Suspended", `data-count="updated">2<`, `data-count="failed">0<`)
		if status(ids[0]) != "suspended" || status(ids[1]) != "suspended" || status(ids[2]) != "active" {
			t.Fatalf("after the bulk suspend: %s %s %s", status(ids[0]), status(ids[1]), status(ids[2]))
		}

		// All that match a search: "load user 1" is 1 and 10 to 19.
		p = e.post(t, base+"/identities/bulk", url.Values{"action": {"suspend"}, "all": {"1"}, "q": {"Load User 1"}})
		wantPage(t, p, http.StatusOK, "Suspend 11 identities", `name="all" value="1"`)
		job = runJob(t, e, base+"/identities/bulk/run", url.Values{"action": {"suspend"}, "all": {"1"}, "q": {"Load User 1"}})
		wantPage(t, job, http.StatusOK, `data-count="updated">10<`, `data-count="unchanged">1<`)

		// Add to a group: a member already is counted so.
		g := e.api(t, "POST", "/realms/"+realm+"/groups", map[string]any{"group": map[string]any{"display_name": "Night shift"}})["id"].(string)
		e.api(t, "POST", "/realms/"+realm+"/groups/"+g+":addMembers", map[string]any{"identity_ids": []string{ids[2]}})
		p = e.post(t, base+"/identities/bulk", url.Values{"action": {"add_to_group"}, "id": {ids[2], ids[3]}})
		wantPage(t, p, http.StatusOK, "Night shift")
		job = runJob(t, e, base+"/identities/bulk/run", url.Values{"action": {"add_to_group"}, "id": {ids[2], ids[3]}, "group": {g}})
		wantPage(t, job, http.StatusOK, `data-count="updated">1<`, `data-count="unchanged">1<`)
		p = e.post(t, base+"/identities/bulk/run", url.Values{"action": {"add_to_group"}, "id": {ids[3]}, "group": {"no-such-group"}})
		wantPage(t, p, http.StatusUnprocessableEntity, "Choose a group", `role="alert"`)

		// Delete needs the count typed.
		p = e.post(t, base+"/identities/bulk/run", url.Values{"action": {"delete"}, "id": {ids[4], ids[5]}, "confirm": {"3"}})
		wantPage(t, p, http.StatusUnprocessableEntity, "Type the number of identities, 2, to confirm.")
		job = runJob(t, e, base+"/identities/bulk/run", url.Values{"action": {"delete"}, "id": {ids[4], ids[5]}, "confirm": {"2"}})
		wantPage(t, job, http.StatusOK, "Deleted", `data-count="updated">2<`)
		// A deleted identity selected again fails with a reason.
		job, lastJob := runJobAt(t, e, base+"/identities/bulk/run", url.Values{"action": {"activate"}, "id": {ids[4], ids[0]}})
		wantPage(t, job, http.StatusOK, `data-count="failed">1<`, "deleted meanwhile", ids[4])

		// Another realm's path does not find the job.
		jobPath := regexp.MustCompile(`/bulk-jobs/[A-Za-z0-9]+`).FindString(lastJob)
		wantPage(t, e.get(t, "/console/realms/"+e.admin()+jobPath), http.StatusNotFound)

		// Too few scopes: the list offers no such button, and the action is refused.
		e.signIn(t, e.node.Token(t, "identities:read"))
		p = e.get(t, base+"/identities")
		if strings.Contains(p.body, `value="suspend"`) || strings.Contains(p.body, `value="delete"`) {
			t.Fatal("the list offers actions that the role does not grant")
		}
		p = e.post(t, base+"/identities/bulk/run", url.Values{"action": {"suspend"}, "id": {ids[6]}})
		wantPage(t, p, http.StatusForbidden, "identities:update")
		if status(ids[6]) != "active" {
			t.Fatal("a refused bulk action suspended an identity")
		}
	})
}

// runJob starts a bulk job with a form post and returns its page once done.
func runJob(t *testing.T, e *env, path string, values url.Values) page {
	t.Helper()
	p, _ := runJobAt(t, e, path, values)
	return p
}

// runJobAt is runJob that also returns the job page's path.
func runJobAt(t *testing.T, e *env, path string, values url.Values) (page, string) {
	t.Helper()
	p := e.post(t, path, values)
	if p.status != http.StatusSeeOther {
		t.Fatalf("POST %s: %d; body: %s", path, p.status, excerpt(p.body))
	}
	for deadline := time.Now().Add(60 * time.Second); ; {
		job := e.get(t, p.location)
		if strings.Contains(job.body, `data-job-state="SUCCEEDED"`) || strings.Contains(job.body, `data-job-state="FAILED"`) {
			return job, p.location
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job did not finish: %s", excerpt(job.body))
		}
		time.Sleep(50 * time.Millisecond) // a job's end is no event the page can wait on
	}
}
