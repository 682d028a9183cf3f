package console

import (
	"net/http"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
)

const realmPrefix = Prefix + "/realms/{realm}"

func (c *Console) identityRoutes(mux *http.ServeMux) {
	c.handle(mux, "GET "+realmPrefix+"/identities", c.identities, "identities:read")
	c.handle(mux, "GET "+realmPrefix+"/identities/new", c.newIdentity, "identities:create")
	c.handle(mux, "POST "+realmPrefix+"/identities", c.createIdentity, "identities:create")
	c.handle(mux, "GET "+realmPrefix+"/identities/{id}", c.identity, "identities:read")
	c.handle(mux, "POST "+realmPrefix+"/identities/{id}", c.updateIdentity, "identities:update")
	c.handle(mux, "POST "+realmPrefix+"/identities/{id}/status", c.setIdentityStatus, "identities:update")
	c.handle(mux, "GET "+realmPrefix+"/identities/{id}/delete", c.confirmDeleteIdentity, "identities:delete")
	c.handle(mux, "POST "+realmPrefix+"/identities/{id}/delete", c.deleteIdentity, "identities:delete")
}

// PageSize is how many rows a console list shows.
const PageSize = 50

// listPage is one page of a keyset-paged list: the rows and the cursor of
// the next page (Next, with NextValue for a search; "" on the last).
type listPage[T any] struct {
	Items     []T
	Next      string
	NextValue string
	Query     string // the search that found the items
}

// pageOf trims one extra row fetched to tell whether a next page exists.
func pageOf[T any](items []T, id func(T) string) listPage[T] {
	p := listPage[T]{Items: items}
	if len(items) > PageSize {
		p.Items = items[:PageSize]
		p.Next = id(items[PageSize-1])
	}
	return p
}

// identitySearch is one page of the search box's results, with the count
// of all the search finds (exact, or a lower bound when Exact is false).
type identitySearch struct {
	Items         []directory.Identity
	Query         string
	Next, NextKey string // the cursor of the next page: id and search key
	Total         int
	Exact         bool
}

// CountUpTo is how far a search counts its matches before it says "more
// than": the count reads that many ids of each field's index range.
const CountUpTo = 1000

// identities lists the realm's identities by name, or those whose name,
// username or e-mail address starts with the search text; htmx asks for
// the results table alone as the search box is typed in.
func (c *Console) identities(q *request) error {
	v, err := c.searchIdentities(q, true)
	if err != nil {
		return err
	}
	q.renderResults("identities.html", "Identities", "identities", v)
	return nil
}

// searchIdentities runs the search of the request's q and cursor (after,
// after_key), with its count; with no search text it lists the realm by
// name, or nothing unless all is set.
func (c *Console) searchIdentities(q *request, all bool) (identitySearch, error) {
	text := strings.TrimSpace(q.FormValue("q"))
	v := identitySearch{Query: text}
	if text == "" && !all {
		return v, nil
	}
	ctx := q.Context()
	page, err := c.Directory.SearchIdentities(ctx, q.tenantID, q.realm.ID, directory.Search{Text: text,
		AfterKey: q.FormValue("after_key"), AfterID: q.FormValue("after"), Limit: PageSize})
	if err != nil {
		return v, err
	}
	v.Items, v.Next, v.NextKey = page.Items, page.NextID, page.NextKey
	if v.Total, v.Exact, err = c.Directory.CountIdentities(ctx, q.tenantID, q.realm.ID, text, CountUpTo); err != nil {
		return v, err
	}
	return v, nil
}

// renderResults renders a searchable list page; htmx asks for its results
// table alone as the search box is typed in.
func (q *request) renderResults(page, title, section string, data any) {
	if q.Header.Get("HX-Target") == "results" {
		q.renderFragment(http.StatusOK, page, "results", title, section, data)
		return
	}
	q.render(http.StatusOK, page, title, section, data)
}

// identityFields are the fields of the manual-entry form.
var identityFields = []string{"display_name", "traits.username", "traits.primary_email_address"}

func (c *Console) newIdentity(q *request) error {
	q.render(http.StatusOK, "identity_new.html", "Add identity", "identities", &form{Values: map[string]string{}})
	return nil
}

// createIdentity adds an identity from the manual-entry form, or shows the
// form again with what was refused.
func (c *Console) createIdentity(q *request) error {
	f := q.newForm(identityFields...)
	i := directory.Identity{DisplayName: f.Values["display_name"], Traits: directory.Traits{
		Username: f.Values["traits.username"], PrimaryEmailAddress: f.Values["traits.primary_email_address"]}}
	if i.DisplayName == "" {
		i.DisplayName = i.Traits.Username
	}
	created, err := c.Directory.CreateIdentity(q.Context(), q.tenantID, q.realm.ID, i)
	if err != nil {
		if !f.refused(err, "traits.username") {
			return err
		}
		if f.Values["display_name"] == "" {
			// Left empty, the name is the username's: its error is the username's.
			delete(f.Errors, "display_name")
		}
		q.render(http.StatusUnprocessableEntity, "identity_new.html", "Add identity", "identities", f)
		return nil
	}
	q.redirect(q.realmPath("/identities/"+created.ID), "Identity "+created.Traits.Username+" created.")
	return nil
}

// identityView is the identity page: on its first tab the summary, or
// with Edit the traits as a form in sections; or another tab's Data.
type identityView struct {
	Identity directory.Identity
	Form     *form
	Sections []traitSection
	Edit     bool
	Summary  summary
	Tab      string
	Data     any
}

// identity shows an identity's summary, or with ?edit its edit form.
func (c *Console) identity(q *request) error {
	i, err := c.Directory.GetIdentity(q.Context(), q.tenantID, q.realm.ID, q.PathValue("id"))
	if err != nil {
		return err
	}
	return c.showIdentity(q, http.StatusOK, i, traitsForm(i), q.FormValue("edit") != "")
}

// showIdentity renders the identity page's first tab with f, the form as
// saved or as typed.
func (c *Console) showIdentity(q *request, status int, i directory.Identity, f *form, edit bool) error {
	s, err := c.identitySummary(q, i)
	if err != nil {
		return err
	}
	q.render(status, "identity.html", i.DisplayName, "identities", identityView{
		Identity: i, Form: f, Sections: traitSections, Edit: edit, Summary: s, Tab: "profile"})
	return nil
}

// traitsForm is an identity's editable fields as form values.
func traitsForm(i directory.Identity) *form {
	f := &form{Values: map[string]string{"display_name": i.DisplayName}, Errors: map[string]string{}}
	for _, name := range directory.TraitNames {
		f.Values["traits."+name] = *i.Traits.Field(name)
	}
	return f
}

// updateIdentity saves the profile form: every trait, as typed (an emptied
// field clears the trait).
func (c *Console) updateIdentity(q *request) error {
	names := []string{"display_name"}
	for _, n := range directory.TraitNames {
		names = append(names, "traits."+n)
	}
	f := q.newForm(names...)
	patch := directory.IdentityPatch{DisplayName: ptr(f.Values["display_name"]), Traits: directory.TraitsPatch{}}
	for _, n := range directory.TraitNames {
		patch.Traits[n] = f.Values["traits."+n]
	}
	id := q.PathValue("id")
	i, err := c.Directory.UpdateIdentity(q.Context(), q.tenantID, q.realm.ID, id, patch)
	if err != nil {
		if latchkey.ErrorCode(err) == latchkey.CodeNotFound || !f.refused(err, "traits.username") {
			return err
		}
		current, err := c.Directory.GetIdentity(q.Context(), q.tenantID, q.realm.ID, id)
		if err != nil {
			return err
		}
		return c.showIdentity(q, http.StatusUnprocessableEntity, current, f, true)
	}
	q.redirect(q.realmPath("/identities/"+i.ID), "Saved.")
	return nil
}

func (c *Console) setIdentityStatus(q *request) error {
	status := q.PostFormValue("status")
	i, err := c.Directory.UpdateIdentity(q.Context(), q.tenantID, q.realm.ID, q.PathValue("id"), directory.IdentityPatch{Status: &status})
	if err != nil {
		return err
	}
	q.redirect(q.realmPath("/identities/"+i.ID), "Identity "+i.Traits.Username+" is now "+i.Status+".")
	return nil
}

func (c *Console) confirmDeleteIdentity(q *request) error {
	i, err := c.Directory.GetIdentity(q.Context(), q.tenantID, q.realm.ID, q.PathValue("id"))
	if err != nil {
		return err
	}
	q.render(http.StatusOK, "identity_delete.html", "Delete "+i.DisplayName, "identities", map[string]any{"Identity": i})
	return nil
}

// deleteIdentity deletes an identity once its username was typed to confirm.
func (c *Console) deleteIdentity(q *request) error {
	i, err := c.Directory.GetIdentity(q.Context(), q.tenantID, q.realm.ID, q.PathValue("id"))
	if err != nil {
		return err
	}
	if !strings.EqualFold(strings.TrimSpace(q.PostFormValue("confirm")), i.Traits.Username) {
		q.render(http.StatusUnprocessableEntity, "identity_delete.html", "Delete "+i.DisplayName, "identities",
			map[string]any{"Identity": i, "Error": "Type the username exactly to confirm."})
		return nil
	}
	if err := c.Directory.DeleteIdentity(q.Context(), q.tenantID, q.realm.ID, i.ID); err != nil {
		return err
	}
	q.redirect(q.realmPath("/identities"), "Identity "+i.Traits.Username+" deleted.")
	return nil
}
