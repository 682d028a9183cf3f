package console

import (
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/passkey"
)

const identityPrefix = realmPrefix + "/identities/{id}"

func (c *Console) identityTabRoutes(mux *http.ServeMux) {
	c.handle(mux, "GET "+identityPrefix+"/groups", ofIdentity(c.identityGroups), "identities:read", "groups:read")
	c.handle(mux, "POST "+identityPrefix+"/groups", ofIdentity(c.joinGroup), "groups:update", "identities:read")
	c.handle(mux, "POST "+identityPrefix+"/groups/{group}/remove", ofIdentity(c.leaveGroup), "groups:update", "identities:read")
	c.handle(mux, "GET "+identityPrefix+"/passkeys", ofIdentity(c.identityPasskeys), "identities:read", "credentials:read")
	c.handle(mux, "POST "+identityPrefix+"/passkeys/{credential}/revoke", ofIdentity(c.revokePasskey), "credentials:revoke")
	c.handle(mux, "POST "+identityPrefix+"/passkeys/{credential}/rename", ofIdentity(c.renamePasskey), "credentials:update")
	c.handle(mux, "GET "+identityPrefix+"/binding-jobs", ofIdentity(c.identityJobs), "identities:read", "credential-binding-jobs:read")
	c.handle(mux, "GET "+identityPrefix+"/binding-jobs/new", ofIdentity(c.newJob), "credential-binding-jobs:create", "authenticator-configs:read")
	c.handle(mux, "POST "+identityPrefix+"/binding-jobs", ofIdentity(c.createJob), "credential-binding-jobs:create", "authenticator-configs:read")
	c.handle(mux, "POST "+identityPrefix+"/binding-jobs/{job}/revoke", ofIdentity(c.revokeJob), "credential-binding-jobs:revoke")
}

// tab renders a tab of the identity page.
func (q *request) tab(status int, i directory.Identity, tab string, data any) {
	q.render(status, "identity.html", i.DisplayName, "identities", identityView{Identity: i, Tab: tab, Data: data})
}

// ofIdentity is a handler of the identity page's tabs and their actions,
// h, given the identity of the path, which each of them reads first.
func ofIdentity(h func(q *request, i directory.Identity) error) handler {
	return func(q *request) error {
		i, err := q.c.Directory.GetIdentity(q.Context(), q.tenantID, q.realm.ID, q.PathValue("id"))
		if err != nil {
			return err
		}
		return h(q, i)
	}
}

func (q *request) identityPath(i directory.Identity, rest string) string {
	return q.realmPath("/identities/" + i.ID + rest)
}

// groupsTab is the Groups tab: the identity's groups, and those it can join.
type groupsTab struct {
	Member []directory.Group
	Others []directory.Group
	More   bool // the realm has more groups than the chooser lists
	Error  string
}

// MaxChoices bounds the options of a chooser (groups to join, configs).
const MaxChoices = 500

func (c *Console) identityGroups(q *request, i directory.Identity) error {
	t, err := c.groupsTab(q, i)
	if err != nil {
		return err
	}
	q.tab(http.StatusOK, i, "groups", t)
	return nil
}

func (c *Console) groupsTab(q *request, i directory.Identity) (groupsTab, error) {
	member, _, err := c.Directory.ListGroupsOfIdentity(q.Context(), q.tenantID, q.realm.ID, i.ID, latchkey.ListOptions{Limit: MaxChoices, SkipTotal: true})
	if err != nil {
		return groupsTab{}, err
	}
	all, _, err := c.Directory.ListGroups(q.Context(), q.tenantID, q.realm.ID, latchkey.ListOptions{Limit: MaxChoices + 1, Sort: "display_name", SkipTotal: true})
	if err != nil {
		return groupsTab{}, err
	}
	t := groupsTab{Member: member, More: len(all) > MaxChoices}
	for _, g := range all[:min(len(all), MaxChoices)] {
		if !slices.ContainsFunc(member, func(m directory.Group) bool { return m.ID == g.ID }) {
			t.Others = append(t.Others, g)
		}
	}
	return t, nil
}

func (c *Console) joinGroup(q *request, i directory.Identity) error {
	g, err := c.Directory.AddGroupMembers(q.Context(), q.tenantID, q.realm.ID, q.PostFormValue("group"), []string{i.ID})
	if err != nil {
		if latchkey.ErrorCode(err) != latchkey.CodeNotFound && latchkey.ErrorCode(err) != latchkey.CodeBadRequest {
			return err
		}
		t, terr := c.groupsTab(q, i)
		if terr != nil {
			return terr
		}
		t.Error = "Choose a group: " + err.Error()
		q.tab(http.StatusUnprocessableEntity, i, "groups", t)
		return nil
	}
	q.redirect(q.identityPath(i, "/groups"), i.Traits.Username+" added to "+g.DisplayName+".")
	return nil
}

func (c *Console) leaveGroup(q *request, i directory.Identity) error {
	g, err := c.Directory.DeleteGroupMembers(q.Context(), q.tenantID, q.realm.ID, q.PathValue("group"), []string{i.ID})
	if err != nil {
		return err
	}
	q.redirect(q.identityPath(i, "/groups"), i.Traits.Username+" removed from "+g.DisplayName+".")
	return nil
}

// passkeysTab is the Passkeys tab: the identity's passkeys by name, with
// their provider's icon, newest first; Error is a refused rename's.
type passkeysTab struct {
	Passkeys []passkeyRow
	Error    string
	Renamed  string // the passkey whose rename was refused
}

// passkeyRow is a passkey as the tab shows it.
type passkeyRow struct {
	passkey.Credential
	Provider string       // the provider's name, "" when unknown
	Icon     template.URL // its icon, a data:image/ URI from the AAGUID list, or ""
}

func (c *Console) passkeysTab(q *request, i directory.Identity) (passkeysTab, error) {
	creds, _, err := c.Passkeys.ListCredentials(q.Context(), q.tenantID, q.realm.ID, i.ID, latchkey.ListOptions{Limit: 200, SkipTotal: true})
	if err != nil {
		return passkeysTab{}, err
	}
	slices.SortFunc(creds, func(a, b passkey.Credential) int { return b.CreateTime.Compare(a.CreateTime) })
	var t passkeysTab
	for _, cred := range creds {
		row := passkeyRow{Credential: cred}
		if cred.WebAuthn != nil {
			var icon string
			row.Provider, icon = passkey.AuthenticatorName(cred.WebAuthn.AAGUID)
			if strings.HasPrefix(icon, "data:image/") { // the list's icons are images; nothing else goes in src
				row.Icon = template.URL(icon)
			}
		}
		t.Passkeys = append(t.Passkeys, row)
	}
	return t, nil
}

func (c *Console) identityPasskeys(q *request, i directory.Identity) error {
	t, err := c.passkeysTab(q, i)
	if err != nil {
		return err
	}
	q.tab(http.StatusOK, i, "passkeys", t)
	return nil
}

func (c *Console) renamePasskey(q *request, i directory.Identity) error {
	cred, err := c.Passkeys.RenameCredential(q.Context(), q.tenantID, q.realm.ID, i.ID, q.PathValue("credential"),
		strings.TrimSpace(q.PostFormValue("display_name")))
	if err != nil {
		message, ok := refusal(err)
		if !ok || latchkey.ErrorCode(err) == latchkey.CodeNotFound {
			return err
		}
		t, terr := c.passkeysTab(q, i)
		if terr != nil {
			return terr
		}
		t.Error, t.Renamed = "Choose another name: "+message, q.PathValue("credential")
		q.tab(http.StatusUnprocessableEntity, i, "passkeys", t)
		return nil
	}
	q.redirect(q.identityPath(i, "/passkeys"), "Passkey renamed to "+cred.Name()+".")
	return nil
}

func (c *Console) revokePasskey(q *request, i directory.Identity) error {
	if _, err := c.Passkeys.RevokeCredential(q.Context(), q.tenantID, q.realm.ID, i.ID, q.PathValue("credential")); err != nil {
		return err
	}
	q.redirect(q.identityPath(i, "/passkeys"), "Passkey revoked: it can no longer sign in.")
	return nil
}

// jobsTab is the Binding jobs tab, newest first.
type jobsTab struct {
	Jobs []passkey.BindingJob
	Open []string // the states in which a job can still be revoked
}

func (c *Console) identityJobs(q *request, i directory.Identity) error {
	jobs, _, err := c.Passkeys.ListBindingJobs(q.Context(), q.tenantID, q.realm.ID, i.ID, latchkey.ListOptions{Limit: 200, SkipTotal: true})
	if err != nil {
		return err
	}
	slices.SortFunc(jobs, func(a, b passkey.BindingJob) int { return b.CreateTime.Compare(a.CreateTime) })
	t := jobsTab{Jobs: jobs, Open: passkey.OpenStates}
	if q.Header.Get("HX-Target") == "jobs" {
		q.renderFragment(http.StatusOK, "identity.html", "jobs-table", i.DisplayName, "identities", identityView{Identity: i, Tab: "jobs", Data: t})
		return nil
	}
	q.tab(http.StatusOK, i, "jobs", t)
	return nil
}

func (c *Console) revokeJob(q *request, i directory.Identity) error {
	if _, err := c.Passkeys.RevokeBindingJob(q.Context(), q.tenantID, q.realm.ID, i.ID, q.PathValue("job")); err != nil {
		return err
	}
	q.redirect(q.identityPath(i, "/binding-jobs"), "Binding job revoked: its link no longer works.")
	return nil
}

// newJobTab is "Add a passkey": the authenticator configs to choose from,
// and what the last choice produced (a link, a curl command, an error).
type newJobTab struct {
	Configs []passkey.AuthenticatorConfig
	// NoEmail, when set, says why no link can be e-mailed.
	NoEmail string
	Config  string
	Error   string
	Link    string
	Curl    string
}

func (c *Console) newJobTab(q *request) (newJobTab, error) {
	configs, _, err := c.Passkeys.ListAuthenticatorConfigs(q.Context(), q.tenantID, q.realm.ID, latchkey.ListOptions{Limit: MaxChoices, SkipTotal: true})
	return newJobTab{Configs: configs, NoEmail: c.emailMissing()}, err
}

func (c *Console) newJob(q *request, i directory.Identity) error {
	t, err := c.newJobTab(q)
	if err != nil {
		return err
	}
	q.tab(http.StatusOK, i, "new-job", t)
	return nil
}

// resubmitWindow is how recent an identical open job must be for a second
// "send" to be taken as the same form submitted twice.
const resubmitWindow = 15 * time.Second

// createJob is the "Add a passkey" form: "Proceed & send email" makes an
// EMAIL job, "Create link" a RETURN job whose link is shown once, and
// "Generate curl" makes nothing but the API call that would.
func (c *Console) createJob(q *request, i directory.Identity) error {
	t, err := c.newJobTab(q)
	if err != nil {
		return err
	}
	t.Config = q.PostFormValue("authenticator_config_id")
	action := q.PostFormValue("action")
	if !slices.ContainsFunc(t.Configs, func(a passkey.AuthenticatorConfig) bool { return a.ID == t.Config }) {
		t.Error = "Choose an authenticator config."
		q.tab(http.StatusUnprocessableEntity, i, "new-job", t)
		return nil
	}
	if action == "curl" {
		t.Curl = c.curl(q, i, t.Config)
		q.tab(http.StatusOK, i, "new-job", t)
		return nil
	}
	req := passkey.JobRequest{DeliveryMethod: passkey.Return, AuthenticatorConfigID: t.Config}
	if action == "email" {
		if t.NoEmail != "" {
			t.Error = t.NoEmail
			q.tab(http.StatusUnprocessableEntity, i, "new-job", t)
			return nil
		}
		req.DeliveryMethod = passkey.Email
		dup, err := c.recentJob(q, i, req)
		if err != nil {
			return err
		}
		if dup {
			q.redirect(q.identityPath(i, "/binding-jobs"), "The e-mail was already sent a moment ago; it was not sent twice.")
			return nil
		}
	}
	_, link, err := c.Passkeys.CreateBindingJob(q.Context(), q.tenantID, q.realm.ID, i.ID, req)
	if err != nil {
		msg, ok := refusal(err)
		if !ok {
			return err
		}
		t.Error = msg
		q.tab(http.StatusUnprocessableEntity, i, "new-job", t)
		return nil
	}
	if req.DeliveryMethod == passkey.Email {
		q.redirect(q.identityPath(i, "/binding-jobs"), "Binding link e-mailed to "+i.Traits.PrimaryEmailAddress+".")
		return nil
	}
	t.Link = link
	q.tab(http.StatusCreated, i, "new-job", t)
	return nil
}

// recentJob reports whether an open job like req was made for the identity
// within resubmitWindow: a double submission, which must not e-mail twice.
func (c *Console) recentJob(q *request, i directory.Identity, req passkey.JobRequest) (bool, error) {
	jobs, _, err := c.Passkeys.ListBindingJobs(q.Context(), q.tenantID, q.realm.ID, i.ID, latchkey.ListOptions{Limit: 200, SkipTotal: true})
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(jobs, func(j passkey.BindingJob) bool {
		return j.DeliveryMethod == req.DeliveryMethod && j.AuthenticatorConfigID == req.AuthenticatorConfigID &&
			slices.Contains(passkey.OpenStates, j.State) && c.Clock.Now().Sub(j.CreateTime) < resubmitWindow
	}), nil
}

// curl is the API request that makes the same job, ready to run once
// $TOKEN holds a management token with credential-binding-jobs:create.
func (c *Console) curl(q *request, i directory.Identity, configID string) string {
	url := strings.TrimRight(c.PublicURL, "/") + "/v1/tenants/" + q.tenantID + "/realms/" + q.realm.ID +
		"/identities/" + i.ID + "/credential-binding-jobs"
	return "curl -sS -X POST '" + url + "' \\\n" +
		"  -H \"Authorization: Bearer $TOKEN\" \\\n" +
		"  -H 'Content-Type: application/json' \\\n" +
		"  -d '{\"job\":{\"delivery_method\":\"RETURN\",\"authenticator_config_id\":\"" + configID + "\"}}'"
}
