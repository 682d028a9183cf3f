package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/passkey"
	"github.com/latchkey/latchkey/internal/provisioning"
)

// Bulk actions on the identities ticked in the list, or on all that its
// search finds: a page that asks what the action needs (a group, an
// authenticator config, a confirmation), then a provisioning job whose
// progress the job page shows. The scopes are the action's, checked when
// it starts.
// FailuresShown is how many identities that a bulk job could not change
// its page lists, with why.
const FailuresShown = 100

func (c *Console) bulkRoutes(mux *http.ServeMux) {
	c.handle(mux, "POST "+realmPrefix+"/identities/bulk", c.chooseBulk, "identities:read")
	c.handle(mux, "POST "+realmPrefix+"/identities/bulk/run", c.runBulk, "identities:read")
	c.handle(mux, "GET "+realmPrefix+"/bulk-jobs/{job}", c.bulkJob, "identities:read")
}

// bulkLabels name the actions in the console's words: the button, and
// what the job page calls the identities it changed.
var bulkLabels = map[string]struct{ Verb, Done string }{
	provisioning.ActionSuspend:          {"Suspend", "Suspended"},
	provisioning.ActionActivate:         {"Activate", "Activated"},
	provisioning.ActionDelete:           {"Delete", "Deleted"},
	provisioning.ActionAddToGroup:       {"Add to group", "Added"},
	provisioning.ActionSendBindingEmail: {"Send binding e-mail", "E-mailed"},
}

// bulkForm is the page that starts a bulk action: the selection (ids, or
// All with the search Query), its size, and what the action needs.
type bulkForm struct {
	Action  string
	Verb    string
	IDs     []string
	All     bool
	Query   string
	Count   int
	Group   string // the group chosen, or preselected by "Add all that match"
	Groups  []directory.Group
	Configs []passkey.AuthenticatorConfig
	Error   string
}

// bulkSelection reads the action and the selection of a posted list.
func (c *Console) bulkSelection(q *request) (bulkForm, error) {
	f := bulkForm{Action: q.PostFormValue("action"), IDs: q.PostForm["id"], All: q.PostFormValue("all") == "1",
		Query: strings.TrimSpace(q.PostFormValue("q")), Group: q.PostFormValue("group")}
	l, ok := bulkLabels[f.Action]
	if !ok {
		return f, latchkey.InvalidField("action", "choose one of the actions above the list")
	}
	f.Verb, f.Count = l.Verb, len(f.IDs)
	if f.All {
		// The realm's count is a sum of counters; a search's is its ids.
		var err error
		if f.Query == "" {
			f.Count, _, err = c.Directory.CountIdentities(q.Context(), q.tenantID, q.realm.ID, "", 0)
		} else {
			var ids []string
			ids, err = c.Directory.MatchingIdentityIDs(q.Context(), q.tenantID, q.realm.ID, f.Query, provisioning.MaxRows+1)
			f.Count = len(ids)
		}
		if err != nil {
			return f, err
		}
		if f.Count > provisioning.MaxRows {
			return f, latchkey.InvalidField("identity_ids", "a bulk action takes at most 1,000,000 identities: narrow the search")
		}
		f.IDs = nil
	}
	return f, nil
}

// chooseBulk shows what the action will do and asks for what it needs.
func (c *Console) chooseBulk(q *request) error {
	f, err := c.bulkSelection(q)
	if err != nil {
		return err
	}
	if f.Count == 0 {
		q.redirect(q.realmPath("/identities")+queryOf(f.Query), "Tick the identities to act on first, then choose the action.")
		return nil
	}
	return c.showBulk(q, http.StatusOK, f)
}

func queryOf(text string) string {
	if text == "" {
		return ""
	}
	return "?q=" + url.QueryEscape(text)
}

// showBulk renders the bulk page with the choices its action offers.
func (c *Console) showBulk(q *request, status int, f bulkForm) error {
	ctx := q.Context()
	var err error
	switch f.Action {
	case provisioning.ActionAddToGroup:
		f.Groups, _, err = c.Directory.ListGroups(ctx, q.tenantID, q.realm.ID, latchkey.ListOptions{Sort: "display_name", Limit: MaxChoices, SkipTotal: true})
	case provisioning.ActionSendBindingEmail:
		f.Configs, _, err = c.Passkeys.ListAuthenticatorConfigs(ctx, q.tenantID, q.realm.ID, latchkey.ListOptions{Limit: MaxChoices, SkipTotal: true})
	}
	if err != nil {
		return err
	}
	q.render(status, "bulk.html", f.Verb+" "+plural(f.Count, "identity", "identities"), "identities", f)
	return nil
}

// plural is "1 identity", "3 identities".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// runBulk starts the job, once the administrator holds the action's
// scopes and, for a delete, typed the number of identities.
func (c *Console) runBulk(q *request) error {
	f, err := c.bulkSelection(q)
	if err != nil {
		return err
	}
	a := provisioning.BulkAction{Action: f.Action, GroupID: q.PostFormValue("group"), ConfigID: q.PostFormValue("authenticator_config_id")}
	if !q.principal.HasScopes(a.Scopes()) {
		q.fail(http.StatusForbidden, "Your administrator role does not grant "+strings.Join(a.Scopes(), " and ")+".")
		return nil
	}
	refuse := func(msg string) error {
		f.Error = msg
		return c.showBulk(q, http.StatusUnprocessableEntity, f)
	}
	if f.Action == provisioning.ActionDelete && strings.TrimSpace(q.PostFormValue("confirm")) != strconv.Itoa(f.Count) {
		return refuse("Type the number of identities, " + strconv.Itoa(f.Count) + ", to confirm.")
	}
	ids := f.IDs
	if f.All {
		if ids, err = c.Directory.MatchingIdentityIDs(q.Context(), q.tenantID, q.realm.ID, f.Query, provisioning.MaxRows); err != nil {
			return err
		}
	}
	j, err := c.Provisioning.CreateBulkJob(q.Context(), q.tenantID, q.realm.ID, a, ids)
	if err != nil {
		if !directory.Refused(err) {
			return err
		}
		return refuse(bulkRefusal(err, a))
	}
	q.redirect(q.realmPath("/bulk-jobs/"+j.ID), "")
	return nil
}

// bulkRefusal says why a job was refused in the words of the page.
func bulkRefusal(err error, a provisioning.BulkAction) string {
	var e *latchkey.Error
	errors.As(err, &e) // directory.Refused said it is one
	switch {
	case e.Code == latchkey.CodeConflict:
		return "Another job (an import or a bulk action) is running in this realm: wait until it finishes, then try again."
	case e.Code == latchkey.CodeNotFound && a.Action == provisioning.ActionAddToGroup:
		return "Choose a group: the one chosen may have been deleted meanwhile."
	case e.Code == latchkey.CodeNotFound && a.Action == provisioning.ActionSendBindingEmail:
		return "Choose an authenticator config: the one chosen may have been deleted meanwhile."
	}
	return strings.ToUpper(e.Message[:1]) + strings.TrimSuffix(e.Message[1:], ".") + "."
}

// bulkJobView is the job page: the job, its action's words and failures.
type bulkJobView struct {
	Job      provisioning.Job
	Verb     string
	Done     string
	Failures []provisioning.Failure
}

func (c *Console) bulkJob(q *request) error {
	j, err := c.Provisioning.GetJob(q.Context(), q.tenantID, q.realm.ID, q.PathValue("job"))
	if err != nil {
		return err
	}
	if j.Action == "" { // an import: its own page
		http.Redirect(q.w, q.Request, q.realmPath("/imports/"+j.ID), http.StatusSeeOther)
		return nil
	}
	v := bulkJobView{Job: j, Verb: bulkLabels[j.Action].Verb, Done: bulkLabels[j.Action].Done}
	if j.Done() && j.Failed > 0 {
		if v.Failures, err = c.Provisioning.Failures(q.Context(), q.tenantID, q.realm.ID, j.ID, 0, FailuresShown); err != nil {
			return err
		}
	}
	if q.Header.Get("HX-Target") == "job" {
		q.renderFragment(http.StatusOK, "bulk_job.html", "job", v.Verb, "identities", v)
		return nil
	}
	q.render(http.StatusOK, "bulk_job.html", v.Verb+": "+plural(j.RowsTotal, "identity", "identities"), "identities", v)
	return nil
}
