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
	c.handle(mux, "GET "+realmPrefix+"/sign-ins", c.signIns, "events:read")
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
	var identity filter.Expr
	if v.Identity != "" { // an identity's activity: its sign-ins and passkeys, and changes to it
		identity = &filter.Or{Left: compare("identity_id", filter.Eq, v.Identity), Right: compare("resource_id", filter.Eq, v.Identity)}
	}
	where := allOf(compare("action", filter.Sw, v.Action), compare("resource_type", filter.Eq, v.ResourceType),
		compare("actor_id", filter.Eq, v.Actor), compare("correlation_id", filter.Eq, v.Correlation), identity)
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

// compare is the condition attr op value, or nil (none) for an empty
// value: a filter field left blank.
func compare(attr string, op filter.Op, value string) filter.Expr {
	if value == "" {
		return nil
	}
	return &filter.Compare{Attr: attr, Op: op, Value: value}
}

// allOf is the conjunction of the conditions that are not nil, or nil.
func allOf(conds ...filter.Expr) filter.Expr {
	var where filter.Expr
	for _, c := range conds {
		switch {
		case c == nil:
		case where == nil:
			where = c
		default:
			where = &filter.And{Left: where, Right: c}
		}
	}
	return where
}

// resourcePages are the console pages of the resource types that have one,
// by path below the realm, to which the resource id is appended.
var resourcePages = map[string]string{"Identity": "/identities/", "Group": "/groups/"}

// signInsView is the Sign-ins page: the filters, as typed, and one page of
// sign-in outcomes, newest first.
type signInsView struct {
	Identity, Application, Outcome, IP string
	Page                               listPage[audit.Event]
	NextURL                            string
}

// signIns lists the realm's sign-ins, allowed and denied, newest first:
// who, to which application, the outcome and why, from where. Each links
// to the events of its whole sign-in (its correlation id).
func (c *Console) signIns(q *request) error {
	v := signInsView{Identity: strings.TrimSpace(q.FormValue("identity")), Application: strings.TrimSpace(q.FormValue("application")),
		Outcome: strings.TrimSpace(q.FormValue("outcome")), IP: strings.TrimSpace(q.FormValue("ip"))}
	outcomes := &filter.Or{Left: compare("action", filter.Eq, audit.SignInAllowed), Right: compare("action", filter.Eq, audit.SignInDenied)}
	where := allOf(outcomes, compare("identity_id", filter.Eq, v.Identity), compare("application_id", filter.Eq, v.Application),
		compare("outcome", filter.Eq, v.Outcome), compare("client_ip", filter.Eq, v.IP))
	items, _, err := c.Events.ListEvents(q.Context(), q.tenantID, q.realm.ID, latchkey.ListOptions{
		Filter: where, After: q.FormValue("after"), Limit: PageSize + 1, SkipTotal: true})
	if err != nil {
		return err
	}
	v.Page = pageOf(items, func(e audit.Event) string { return e.ID })
	if v.Page.Next != "" {
		v.NextURL = q.realmPath("/sign-ins?" + url.Values{"identity": {v.Identity}, "application": {v.Application},
			"outcome": {v.Outcome}, "ip": {v.IP}, "after": {v.Page.Next}}.Encode())
	}
	q.render(http.StatusOK, "signins.html", "Sign-ins", "sign-ins", v)
	return nil
}
