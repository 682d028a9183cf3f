package console

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/filter"
)

const groupPrefix = realmPrefix + "/groups/{group}"

func (c *Console) groupRoutes(mux *http.ServeMux) {
	c.handle(mux, "GET "+realmPrefix+"/groups", c.groups, "groups:read")
	c.handle(mux, "GET "+realmPrefix+"/groups/new", c.newGroup, "groups:create")
	c.handle(mux, "POST "+realmPrefix+"/groups", c.createGroup, "groups:create")
	c.handle(mux, "GET "+groupPrefix, c.group, "groups:read", "identities:read")
	c.handle(mux, "POST "+groupPrefix, c.updateGroup, "groups:update", "identities:read")
	c.handle(mux, "GET "+groupPrefix+"/delete", c.confirmDeleteGroup, "groups:delete")
	c.handle(mux, "POST "+groupPrefix+"/delete", c.deleteGroup, "groups:delete")
	c.handle(mux, "GET "+groupPrefix+"/members/add", c.findMembers, "groups:update", "identities:read")
	c.handle(mux, "POST "+groupPrefix+"/members", c.addMember, "groups:update", "identities:read")
	c.handle(mux, "POST "+groupPrefix+"/members/{id}/remove", c.removeMember, "groups:update", "identities:read")
}

var groupFields = []string{"display_name", "description"}

// groups lists the realm's groups, searched by name prefix (the name is
// unique and indexed, in any case) and paged by cursor.
func (c *Console) groups(q *request) error {
	text := strings.TrimSpace(q.FormValue("q"))
	var byName filter.Expr
	if text != "" {
		byName = &filter.Compare{Attr: "display_name", Op: filter.Sw, Value: text}
	}
	items, _, err := c.Directory.ListGroups(q.Context(), q.tenantID, q.realm.ID, latchkey.ListOptions{
		Filter: byName, After: q.FormValue("after"), Limit: PageSize + 1, SkipTotal: true})
	if err != nil {
		return err
	}
	page := pageOf(items, func(g directory.Group) string { return g.ID })
	page.Query = text
	counts, err := c.Directory.MemberCounts(q.Context(), page.Items, CountUpTo)
	if err != nil {
		return err
	}
	q.renderResults("groups.html", "Groups", "groups", groupList{listPage: page, Members: counts, CountUpTo: CountUpTo})
	return nil
}

// groupList is the groups page: a page of groups with their member
// counts, each up to CountUpTo (more is shown as "more than").
type groupList struct {
	listPage[directory.Group]
	Members   map[string]int
	CountUpTo int
}

func (c *Console) newGroup(q *request) error {
	q.render(http.StatusOK, "group.html", "Create group", "groups", groupView{Form: &form{Values: map[string]string{}}})
	return nil
}

func (c *Console) createGroup(q *request) error {
	f := q.newForm(groupFields...)
	g, err := c.Directory.CreateGroup(q.Context(), q.tenantID, q.realm.ID,
		directory.Group{DisplayName: f.Values["display_name"], Description: f.Values["description"]}, nil)
	if err != nil {
		if !f.refused(err, "display_name") {
			return err
		}
		q.render(http.StatusUnprocessableEntity, "group.html", "Create group", "groups", groupView{Form: f})
		return nil
	}
	q.redirect(q.groupPath(g, ""), "Group "+g.DisplayName+" created.")
	return nil
}

func (q *request) groupPath(g directory.Group, rest string) string {
	return q.realmPath("/groups/" + g.ID + rest)
}

// groupView is the group page: its fields as a form and a page of members;
// without a group it is the form that creates one.
type groupView struct {
	Group   directory.Group
	Form    *form
	Members listPage[directory.Identity]
}

func (c *Console) group(q *request) error {
	g, err := c.Directory.GetGroup(q.Context(), q.tenantID, q.realm.ID, q.PathValue("group"))
	if err != nil {
		return err
	}
	f := &form{Values: map[string]string{"display_name": g.DisplayName, "description": g.Description}, Errors: map[string]string{}}
	return c.showGroup(q, http.StatusOK, g, f)
}

// showGroup renders the group page with f, the form as saved or as typed.
func (c *Console) showGroup(q *request, status int, g directory.Group, f *form) error {
	members, _, err := c.Directory.ListGroupMembers(q.Context(), q.tenantID, q.realm.ID, g.ID, latchkey.ListOptions{
		After: q.FormValue("after"), Limit: PageSize + 1, SkipTotal: true})
	if err != nil {
		return err
	}
	q.render(status, "group.html", g.DisplayName, "groups", groupView{Group: g, Form: f,
		Members: pageOf(members, func(i directory.Identity) string { return i.ID })})
	return nil
}

func (c *Console) updateGroup(q *request) error {
	f := q.newForm(groupFields...)
	id := q.PathValue("group")
	g, err := c.Directory.UpdateGroup(q.Context(), q.tenantID, q.realm.ID, id,
		directory.GroupPatch{DisplayName: ptr(f.Values["display_name"]), Description: ptr(f.Values["description"])})
	if err != nil {
		if latchkey.ErrorCode(err) == latchkey.CodeNotFound || !f.refused(err, "display_name") {
			return err
		}
		current, err := c.Directory.GetGroup(q.Context(), q.tenantID, q.realm.ID, id)
		if err != nil {
			return err
		}
		return c.showGroup(q, http.StatusUnprocessableEntity, current, f)
	}
	q.redirect(q.groupPath(g, ""), "Saved.")
	return nil
}

// groupDeletion asks for the group's name; the service refuses a group
// that still has members, as the API does.
func (q *request) groupDeletion(g directory.Group) confirmation {
	return confirmation{Title: "Delete " + g.DisplayName + "?", Name: g.DisplayName, Section: "groups",
		Warning: "This deletes the group " + g.DisplayName + ". Only a group without members can be deleted: remove them first. It cannot be undone.",
		Action:  q.groupPath(g, "/delete"), Button: "Delete group", Cancel: q.groupPath(g, "")}
}

func (c *Console) confirmDeleteGroup(q *request) error {
	g, err := c.Directory.GetGroup(q.Context(), q.tenantID, q.realm.ID, q.PathValue("group"))
	if err != nil {
		return err
	}
	q.confirm(http.StatusOK, q.groupDeletion(g))
	return nil
}

func (c *Console) deleteGroup(q *request) error {
	g, err := c.Directory.GetGroup(q.Context(), q.tenantID, q.realm.ID, q.PathValue("group"))
	if err != nil {
		return err
	}
	done, err := q.confirmed(q.groupDeletion(g), func() error {
		return c.Directory.DeleteGroup(q.Context(), q.tenantID, q.realm.ID, g.ID)
	})
	if done {
		q.redirect(q.realmPath("/groups"), "Group "+g.DisplayName+" deleted.")
	}
	return err
}

// memberSearch is "Add members": identities found by the search, each
// with an Add button.
type memberSearch struct {
	Group   directory.Group
	Results identitySearch
}

// findMembers searches the realm's identities as the identities list does
// (username, e-mail or name prefix); without a search it lists none, since
// a realm may hold millions.
func (c *Console) findMembers(q *request) error {
	g, err := c.Directory.GetGroup(q.Context(), q.tenantID, q.realm.ID, q.PathValue("group"))
	if err != nil {
		return err
	}
	found, err := c.searchIdentities(q, false)
	if err != nil {
		return err
	}
	q.renderResults("group_add.html", "Add members to "+g.DisplayName, "groups", memberSearch{Group: g, Results: found})
	return nil
}

// addMember adds the identities ticked among the search's results (or
// the one whose Add was pressed), then returns to the same search for the
// next ones, saying who was added and who already was a member.
func (c *Console) addMember(q *request) error {
	ids := q.PostForm["identity_id"]
	if len(ids) == 0 {
		q.redirect(q.realmPath("/groups/"+q.PathValue("group")+"/members/add")+queryOf(strings.TrimSpace(q.PostFormValue("q"))),
			"Tick the identities to add first.")
		return nil
	}
	g, already, err := c.Directory.AddNewGroupMembers(q.Context(), q.tenantID, q.realm.ID, q.PathValue("group"), ids)
	if err != nil {
		return err
	}
	to := q.groupPath(g, "/members/add") + queryOf(strings.TrimSpace(q.PostFormValue("q")))
	q.redirect(to, addedMessage(c, q, g, slices.Compact(slices.Sorted(slices.Values(ids))), already))
	return nil
}

// addedMessage says who was added to g and who already was a member.
func addedMessage(c *Console, q *request, g directory.Group, ids, already []string) string {
	if len(ids) == 1 {
		name := ids[0]
		if i, err := c.Directory.GetIdentity(q.Context(), q.tenantID, q.realm.ID, ids[0]); err == nil {
			name = i.Traits.Username
		}
		if len(already) == 1 {
			return name + " is already a member of " + g.DisplayName + "."
		}
		return name + " added to " + g.DisplayName + "."
	}
	msg := plural(len(ids)-len(already), "identity", "identities") + " added to " + g.DisplayName + "."
	if len(already) > 0 {
		msg += " " + strconv.Itoa(len(already)) + " of those selected already were members."
	}
	return msg
}

func (c *Console) removeMember(q *request) error {
	i, err := c.Directory.GetIdentity(q.Context(), q.tenantID, q.realm.ID, q.PathValue("id"))
	if err != nil {
		return err
	}
	g, err := c.Directory.DeleteGroupMembers(q.Context(), q.tenantID, q.realm.ID, q.PathValue("group"), []string{i.ID})
	if err != nil {
		return err
	}
	q.redirect(q.groupPath(g, ""), i.Traits.Username+" removed from "+g.DisplayName+".")
	return nil
}
