package scim

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/filter"
)

// ContentType is the media type of SCIM responses.
const ContentType = "application/scim+json"

// defaultCount is the page size of a list without count.
const defaultCount = 100

// Handler serves the SCIM endpoints of a realm over the directory service.
// Its handlers read the path values "tenant", "realm" and "id";
// authentication is the caller's (see Routes).
type Handler struct {
	Directory *directory.Service
	// PublicURL is the node's external base URL, e.g. https://host.
	PublicURL string
}

// Route is one SCIM endpoint: Path is relative to the SCIM base
// (/v1/tenants/{tenant}/realms/{realm}/scim/v2); Resource is "users" or
// "groups" (Handler checks the scope itself, see Authorizer), "bulk" (needs
// a token; each operation is authorized as its own endpoint) or ""
// (discovery, served without a token); Action is the verb of the scope a
// users or groups endpoint needs ("read", "create", "update", "delete").
type Route struct {
	Method, Path     string
	Resource, Action string
	Handler          http.HandlerFunc
}

// Authorizer reports whether the bearer of an authenticated request may
// perform action on resource ("users" or "groups").
type Authorizer func(r *http.Request, resource, action string) bool

// Routes lists the endpoints. The users and groups handlers refuse with 403
// what allowed refuses, whether they are called directly or by /Bulk.
func (h *Handler) Routes(allowed Authorizer) []Route {
	routes := []Route{
		{"GET", "/Users", "users", "read", h.listUsers},
		{"POST", "/Users/.search", "users", "read", h.searchUsers},
		{"POST", "/Users", "users", "create", h.createUser},
		{"GET", "/Users/{id}", "users", "read", h.getUser},
		{"PUT", "/Users/{id}", "users", "update", h.replaceUser},
		{"PATCH", "/Users/{id}", "users", "update", h.patchUser},
		{"DELETE", "/Users/{id}", "users", "delete", h.deleteUser},
		{"GET", "/Groups", "groups", "read", h.listGroups},
		{"POST", "/Groups/.search", "groups", "read", h.searchGroups},
		{"POST", "/Groups", "groups", "create", h.createGroup},
		{"GET", "/Groups/{id}", "groups", "read", h.getGroup},
		{"PUT", "/Groups/{id}", "groups", "update", h.replaceGroup},
		{"PATCH", "/Groups/{id}", "groups", "update", h.patchGroup},
		{"DELETE", "/Groups/{id}", "groups", "delete", h.deleteGroup},
	}
	for i, rt := range routes {
		routes[i].Handler = func(w http.ResponseWriter, r *http.Request) {
			if !allowed(r, rt.Resource, rt.Action) {
				WriteError(w, r, Forbidden("token is unauthorized."))
				return
			}
			rt.Handler(w, r)
		}
	}
	return append(routes,
		Route{"POST", "/Bulk", "bulk", "", h.bulk(routes)},
		Route{"GET", "/ServiceProviderConfig", "", "", h.serviceProviderConfig},
		Route{"GET", "/ResourceTypes", "", "", h.resourceTypes},
		Route{"GET", "/ResourceTypes/{id}", "", "", h.resourceTypes},
		Route{"GET", "/Schemas", "", "", h.schemas},
		Route{"GET", "/Schemas/{id}", "", "", h.schemas},
	)
}

// base is the SCIM base URL of the request's realm.
func (h *Handler) base(r *http.Request) string {
	return strings.TrimRight(h.PublicURL, "/") + "/v1/tenants/" + r.PathValue("tenant") +
		"/realms/" + r.PathValue("realm") + "/scim/v2"
}

// WriteJSON writes v as a SCIM response.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", ContentType)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// WriteError writes err as a SCIM error (FromError). The cause of a 5xx is
// logged with the request's id; a 503 says when to retry.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e := FromError(err)
	status := e.HTTPStatus()
	if ctx := r.Context(); status >= 500 && ctx.Err() == nil {
		level := slog.LevelError
		if status == http.StatusServiceUnavailable {
			level = slog.LevelWarn
		}
		latchkey.LoggerFrom(ctx).Log(ctx, level, "scim error", "status", status, "err", err, "request_id", latchkey.RequestIDFrom(ctx))
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(latchkey.RetryAfter))
	}
	WriteJSON(w, status, e)
}

// readBody reads a request body of an accepted media type within the limit.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, *Error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && mt != ContentType) {
			return nil, NewError(http.StatusUnsupportedMediaType, "",
				"the body must be application/scim+json or application/json")
		}
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxPayloadSize))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, PayloadTooLarge("the body exceeds %d bytes", MaxPayloadSize)
		}
		return nil, InvalidSyntax("cannot read the body")
	}
	return b, nil
}

// etagMatches reports whether an If-Match or If-None-Match header names
// version (weak comparison) or is "*".
func etagMatches(header, version string) bool {
	want := strings.TrimPrefix(version, "W/")
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == want {
			return true
		}
	}
	return false
}

// ifMatch checks the If-Match header of r against the stored version.
func ifMatch(r *http.Request, version string) error {
	if h := r.Header.Get("If-Match"); h != "" && !etagMatches(h, version) {
		return PreconditionFailed("the resource has changed: its version is %s", version)
	}
	return nil
}

// notModified answers 304 when If-None-Match names the version.
func notModified(w http.ResponseWriter, r *http.Request, version string) bool {
	if h := r.Header.Get("If-None-Match"); h != "" && etagMatches(h, version) {
		w.Header().Set("ETag", version)
		w.WriteHeader(http.StatusNotModified)
		return true
	}
	return false
}

// listParams are the query parameters of a list or the body of a search.
type listParams struct {
	Attributes         []string `json:"attributes"`
	ExcludedAttributes []string `json:"excludedAttributes"`
	Filter             string   `json:"filter"`
	SortBy             string   `json:"sortBy"`
	SortOrder          string   `json:"sortOrder"`
	StartIndex         *int     `json:"startIndex"`
	Count              *int     `json:"count"`
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// projection returns the attributes parameters of a request's query.
func projection(r *http.Request) (attributes, excluded []string) {
	q := r.URL.Query()
	return splitList(q.Get("attributes")), splitList(q.Get("excludedAttributes"))
}

func queryParams(r *http.Request) (listParams, *Error) {
	q := r.URL.Query()
	p := listParams{Filter: q.Get("filter"), SortBy: q.Get("sortBy"), SortOrder: q.Get("sortOrder")}
	p.Attributes, p.ExcludedAttributes = projection(r)
	for name, dst := range map[string]**int{"startIndex": &p.StartIndex, "count": &p.Count} {
		if s := q.Get(name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				return p, InvalidValue("%s must be an integer", name)
			}
			*dst = &n
		}
	}
	return p, nil
}

func searchParams(w http.ResponseWriter, r *http.Request) (listParams, *Error) {
	var p listParams
	body, err := readBody(w, r)
	if err != nil {
		return p, err
	}
	if err := Decode(body, &p); err != nil {
		return p, err
	}
	return p, nil
}

// options translates list parameters into the store's list options; it also
// returns the 1-based start index.
func (p listParams) options(res Resource) (latchkey.ListOptions, int, *Error) {
	var opts latchkey.ListOptions
	if p.Filter != "" {
		e, err := filter.Parse(p.Filter)
		if err != nil {
			return opts, 0, InvalidFilter("%v", err)
		}
		x, serr := TranslateFilter(res, e)
		if serr != nil {
			return opts, 0, serr
		}
		opts.Filter = x
	}
	start := 1
	if p.StartIndex != nil && *p.StartIndex > 1 {
		start = *p.StartIndex
	}
	count := defaultCount
	if p.Count != nil {
		count = min(max(*p.Count, 0), MaxResults)
	}
	opts.Skip, opts.Limit = start-1, count
	if p.SortBy != "" {
		col, err := SortAttribute(res, p.SortBy)
		if err != nil {
			return opts, 0, err
		}
		opts.Sort = col
	}
	switch strings.ToLower(p.SortOrder) {
	case "", "ascending":
	case "descending":
		opts.Descending = true
	default:
		return opts, 0, InvalidValue("sortOrder must be ascending or descending")
	}
	return opts, start, nil
}

// asError turns a *Error that may be nil into an error that is nil then.
func asError(e *Error) error {
	if e == nil {
		return nil
	}
	return e
}

// ---- Users

func (h *Handler) renderUser(r *http.Request, i directory.Identity, groups []directory.Group, attrs, excluded []string) map[string]any {
	return Project(ToDocument(UserFromIdentity(i, groups, h.base(r))), UserResource, attrs, excluded)
}

func (h *Handler) groupsOf(r *http.Request, ids ...string) (map[string][]directory.Group, error) {
	return h.Directory.GroupsOfIdentities(r.Context(), ids)
}

// writeUser answers with one user, its ETag and, for 201, its Location.
func (h *Handler) writeUser(w http.ResponseWriter, r *http.Request, status int, i directory.Identity) {
	var groups []directory.Group
	if status != http.StatusCreated { // a new user belongs to no group yet
		of, err := h.groupsOf(r, i.ID)
		if err != nil {
			WriteError(w, r, err)
			return
		}
		groups = of[i.ID]
	}
	h.writeUserIn(w, r, status, i, groups)
}

// writeUserIn is writeUser of a user whose groups are known.
func (h *Handler) writeUserIn(w http.ResponseWriter, r *http.Request, status int, i directory.Identity, groups []directory.Group) {
	attrs, excluded := projection(r)
	doc := h.renderUser(r, i, groups, attrs, excluded)
	w.Header().Set("ETag", UserVersion(i, groups))
	if status == http.StatusCreated {
		w.Header().Set("Location", h.base(r)+"/Users/"+i.ID)
	}
	WriteJSON(w, status, doc)
}

// ifMatchUser checks If-Match against a user's version, which its groups
// are part of: read in the caller's transaction, on its connection.
func (h *Handler) ifMatchUser(r *http.Request, i directory.Identity, groups directory.Memberships) error {
	if r.Header.Get("If-Match") == "" {
		return nil // spares reading the groups
	}
	of, err := groups()
	if err != nil {
		return err
	}
	return ifMatch(r, UserVersion(i, of))
}

func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request) {
	p, err := queryParams(r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	h.queryUsers(w, r, p)
}

func (h *Handler) searchUsers(w http.ResponseWriter, r *http.Request) {
	p, err := searchParams(w, r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	h.queryUsers(w, r, p)
}

func (h *Handler) queryUsers(w http.ResponseWriter, r *http.Request, p listParams) {
	opts, start, serr := p.options(UserResource)
	if serr != nil {
		WriteError(w, r, serr)
		return
	}
	ids, total, err := h.Directory.ListIdentities(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), opts)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	var keys []string
	for _, i := range ids {
		keys = append(keys, i.ID)
	}
	groups, err := h.groupsOf(r, keys...)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	resources := make([]any, 0, len(ids))
	for _, i := range ids {
		resources = append(resources, h.renderUser(r, i, groups[i.ID], p.Attributes, p.ExcludedAttributes))
	}
	WriteJSON(w, http.StatusOK, NewListResponse(resources, total, start))
}

func (h *Handler) getUser(w http.ResponseWriter, r *http.Request) {
	i, err := h.Directory.GetIdentity(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("id"))
	if err != nil {
		WriteError(w, r, err)
		return
	}
	groups, err := h.groupsOf(r, i.ID)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	if notModified(w, r, UserVersion(i, groups[i.ID])) {
		return
	}
	h.writeUserIn(w, r, http.StatusOK, i, groups[i.ID])
}

// decodeUser reads a User body and maps it onto an identity's fields.
func decodeUser(w http.ResponseWriter, r *http.Request) (directory.Identity, *Error) {
	body, err := readBody(w, r)
	if err != nil {
		return directory.Identity{}, err
	}
	var u User
	if err := Decode(body, &u); err != nil {
		return directory.Identity{}, err
	}
	display, status, traits, err := IdentityFromUser(u)
	if err != nil {
		return directory.Identity{}, err
	}
	return directory.Identity{DisplayName: display, Status: status, Traits: traits}, nil
}

func (h *Handler) createUser(w http.ResponseWriter, r *http.Request) {
	in, serr := decodeUser(w, r)
	if serr != nil {
		WriteError(w, r, serr)
		return
	}
	i, err := h.Directory.CreateIdentity(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), in)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	h.writeUser(w, r, http.StatusCreated, i)
}

func (h *Handler) replaceUser(w http.ResponseWriter, r *http.Request) {
	in, serr := decodeUser(w, r)
	if serr != nil {
		WriteError(w, r, serr)
		return
	}
	i, err := h.Directory.UpdateIdentityWith(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("id"),
		func(i *directory.Identity, groups directory.Memberships) error {
			if err := h.ifMatchUser(r, *i, groups); err != nil {
				return err
			}
			i.DisplayName, i.Status, i.Traits = in.DisplayName, in.Status, in.Traits
			return nil
		})
	if err != nil {
		WriteError(w, r, err)
		return
	}
	h.writeUser(w, r, http.StatusOK, i)
}

func decodePatch(w http.ResponseWriter, r *http.Request) (PatchOp, *Error) {
	var op PatchOp
	body, err := readBody(w, r)
	if err != nil {
		return op, err
	}
	if err := Decode(body, &op); err != nil {
		return op, err
	}
	if len(op.Operations) == 0 {
		return op, InvalidValue("Operations: at least one operation is required")
	}
	return op, nil
}

func (h *Handler) patchUser(w http.ResponseWriter, r *http.Request) {
	op, serr := decodePatch(w, r)
	if serr != nil {
		WriteError(w, r, serr)
		return
	}
	base := h.base(r)
	i, err := h.Directory.UpdateIdentityWith(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("id"),
		func(i *directory.Identity, groups directory.Memberships) error {
			if err := h.ifMatchUser(r, *i, groups); err != nil {
				return err
			}
			doc, err := ApplyPatch(ToDocument(UserFromIdentity(*i, nil, base)), op, UserResource)
			if err != nil {
				return err
			}
			var u User
			if err := FromDocument(doc, &u); err != nil {
				return err
			}
			display, status, traits, err := IdentityFromUser(u)
			if err != nil {
				return err
			}
			i.DisplayName, i.Status, i.Traits = display, status, traits
			return nil
		})
	if err != nil {
		WriteError(w, r, err)
		return
	}
	h.writeUser(w, r, http.StatusOK, i)
}

func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request) {
	err := h.Directory.DeleteIdentityIf(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("id"),
		func(i directory.Identity, groups directory.Memberships) error { return h.ifMatchUser(r, i, groups) })
	if err != nil {
		WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
