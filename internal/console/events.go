package console

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/filter"
)

func (c *Console) eventRoutes(mux *http.ServeMux) {
	c.handle(mux, "GET "+realmPrefix+"/events", c.events, "events:read")
}

// eventRow is an event with the console page of its resource, if any.
type eventRow struct {
	audit.Event
	Link string
}

// eventsView is the audit log page: the filters, as typed, and one page of
// events, newest first.
type eventsView struct {
	Action, ResourceType, Actor, Correlation, Identity string
	Page                                               listPage[eventRow]
	NextURL, ActorURL                                  string
}

// events lists the realm's audit log, newest first and paged by the last
// id shown, filtered by action (a prefix: "sign_in." is every sign-in
// event), resource type, actor id and correlation id (one whole sign-in).
func (c *Console) events(q *request) error {
	v := eventsView{Action: strings.TrimSpace(q.FormValue("action")), ResourceType: strings.TrimSpace(q.FormValue("resource_type")),
		Actor: strings.TrimSpace(q.FormValue("actor")), Correlation: strings.TrimSpace(q.FormValue("correlation")),
		Identity: strings.TrimSpace(q.FormValue("identity"))}
	var where filter.Expr
	for _, cond := range []struct {
		attr, value string
		op          filter.Op
	}{{"action", v.Action, filter.Sw}, {"resource_type", v.ResourceType, filter.Eq}, {"actor_id", v.Actor, filter.Eq},
		{"correlation_id", v.Correlation, filter.Eq}} {
		if cond.value == "" {
			continue
		}
		var e filter.Expr = &filter.Compare{Attr: cond.attr, Op: cond.op, Value: cond.value}
		if where != nil {
			e = &filter.And{Left: where, Right: e}
		}
		where = e
	}
	if v.Identity != "" { // an identity's activity: its sign-ins and passkeys, and changes to it
		var e filter.Expr = &filter.Or{Left: &filter.Compare{Attr: "identity_id", Op: filter.Eq, Value: v.Identity},
			Right: &filter.Compare{Attr: "resource_id", Op: filter.Eq, Value: v.Identity}}
		if where != nil {
			e = &filter.And{Left: where, Right: e}
		}
		where = e
	}
	items, _, err := c.Events.ListEvents(q.Context(), q.tenantID, q.realm.ID, latchkey.ListOptions{
		Filter: where, After: q.FormValue("after"), Limit: PageSize + 1, SkipTotal: true})
	if err != nil {
		return err
	}
	rows := make([]eventRow, len(items))
	for i, e := range items {
		rows[i] = eventRow{Event: e, Link: resourcePages[e.ResourceType]}
		if rows[i].Link != "" {
			rows[i].Link = q.realmPath(rows[i].Link + e.ResourceID)
		}
	}
	v.Page = pageOf(rows, func(r eventRow) string { return r.ID })
	filters := url.Values{"action": {v.Action}, "resource_type": {v.ResourceType}, "actor": {v.Actor}, "correlation": {v.Correlation}, "identity": {v.Identity}}
	if v.Page.Next != "" {
		filters.Set("after", v.Page.Next)
		v.NextURL = q.realmPath("/events?" + filters.Encode())
		filters.Del("after")
	}
	filters.Del("actor")
	v.ActorURL = q.realmPath("/events?" + filters.Encode() + "&actor=")
	q.render(http.StatusOK, "events.html", "Events", "events", v)
	return nil
}

// resourcePages are the console pages of the resource types that have one,
// by path below the realm, to which the resource id is appended.
var resourcePages = map[string]string{"Identity": "/identities/", "Group": "/groups/"}
