package scim

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/filter"
)

// memberError turns the service's "identities not found" of a member
// change into an invalidValue naming the members: the group itself exists.
func memberError(err error) error {
	var le *latchkey.Error
	if !errors.As(err, &le) || le.Code != latchkey.CodeNotFound {
		return err
	}
	for _, d := range le.Details {
		for _, be := range d.Errors {
			if be.ResourceType == "Identity" {
				return InvalidValue("members: no such Users: %s", strings.Join(be.IDs, ", "))
			}
		}
	}
	return err
}

// wantMembers reports whether a projection returns members, which are
// expensive to read.
func wantMembers(attrs, excluded []string) bool {
	named := func(list []string) bool {
		return slices.ContainsFunc(list, func(a string) bool {
			a = strings.ToLower(a)
			a = strings.TrimPrefix(a, strings.ToLower(SchemaGroup)+":")
			return a == "members" || strings.HasPrefix(a, "members.")
		})
	}
	if named(excluded) {
		return false
	}
	return len(attrs) == 0 || named(attrs)
}

func (h *Handler) renderGroup(r *http.Request, g directory.Group, attrs, excluded []string) (map[string]any, error) {
	var members []directory.Identity
	if wantMembers(attrs, excluded) {
		var err error
		if members, err = h.Directory.AllGroupMembers(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), g.ID); err != nil {
			return nil, err
		}
	}
	return Project(ToDocument(GroupFromDirectory(g, members, h.base(r))), GroupResource, attrs, excluded), nil
}

func (h *Handler) writeGroup(w http.ResponseWriter, r *http.Request, status int, g directory.Group) {
	attrs, excluded := projection(r)
	doc, err := h.renderGroup(r, g, attrs, excluded)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	w.Header().Set("ETag", Version(g.UpdateTime))
	if status == http.StatusCreated {
		w.Header().Set("Location", h.base(r)+"/Groups/"+g.ID)
	}
	WriteJSON(w, status, doc)
}

func (h *Handler) listGroups(w http.ResponseWriter, r *http.Request) {
	p, err := queryParams(r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	h.queryGroups(w, r, p)
}

func (h *Handler) searchGroups(w http.ResponseWriter, r *http.Request) {
	p, err := searchParams(w, r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	h.queryGroups(w, r, p)
}

func (h *Handler) queryGroups(w http.ResponseWriter, r *http.Request, p listParams) {
	opts, start, serr := p.options(GroupResource)
	if serr != nil {
		WriteError(w, r, serr)
		return
	}
	groups, total, err := h.Directory.ListGroups(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), opts)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	resources := make([]any, 0, len(groups))
	for _, g := range groups {
		doc, err := h.renderGroup(r, g, p.Attributes, p.ExcludedAttributes)
		if err != nil {
			WriteError(w, r, err)
			return
		}
		resources = append(resources, doc)
	}
	WriteJSON(w, http.StatusOK, NewListResponse(resources, total, start))
}

func (h *Handler) getGroup(w http.ResponseWriter, r *http.Request) {
	g, err := h.Directory.GetGroup(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("id"))
	if err != nil {
		WriteError(w, r, err)
		return
	}
	if notModified(w, r, Version(g.UpdateTime)) {
		return
	}
	h.writeGroup(w, r, http.StatusOK, g)
}

type groupIn struct {
	display, externalID string
	members             []string
}

func decodeGroup(w http.ResponseWriter, r *http.Request) (groupIn, *Error) {
	body, err := readBody(w, r)
	if err != nil {
		return groupIn{}, err
	}
	var g Group
	if err := Decode(body, &g); err != nil {
		return groupIn{}, err
	}
	display, ext, members, err := DirectoryFromGroup(g)
	if err != nil {
		return groupIn{}, err
	}
	return groupIn{display, ext, members}, nil
}

func (h *Handler) createGroup(w http.ResponseWriter, r *http.Request) {
	in, serr := decodeGroup(w, r)
	if serr != nil {
		WriteError(w, r, serr)
		return
	}
	g, err := h.Directory.CreateGroup(r.Context(), r.PathValue("tenant"), r.PathValue("realm"),
		directory.Group{DisplayName: in.display, ExternalID: in.externalID}, in.members)
	if err != nil {
		WriteError(w, r, memberError(err))
		return
	}
	h.writeGroup(w, r, http.StatusCreated, g)
}

func (h *Handler) replaceGroup(w http.ResponseWriter, r *http.Request) {
	in, serr := decodeGroup(w, r)
	if serr != nil {
		WriteError(w, r, serr)
		return
	}
	members := in.members
	if members == nil {
		members = []string{}
	}
	g, err := h.Directory.ChangeGroup(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("id"),
		directory.GroupChange{
			Edit: func(g *directory.Group) error {
				if err := ifMatch(r, Version(g.UpdateTime)); err != nil {
					return err
				}
				g.DisplayName, g.ExternalID = in.display, in.externalID
				return nil
			},
			SetMembers: &members,
		})
	if err != nil {
		WriteError(w, r, memberError(err))
		return
	}
	h.writeGroup(w, r, http.StatusOK, g)
}

// namedMembers returns the ids of the members a PatchOp names, when what it
// does to members depends on those members alone: adds, and removes of
// members listed in value or selected by `value eq` filters. ok is false
// when it touches members otherwise (replace, remove of all, a filter on
// another sub-attribute, a malformed path): that needs every member.
func namedMembers(op PatchOp) (ids []string, ok bool) {
	for _, o := range op.Operations {
		kind := strings.ToLower(strings.TrimSpace(o.Op))
		paths := map[string]any{o.Path: o.Value}
		if strings.TrimSpace(o.Path) == "" {
			paths, _ = o.Value.(map[string]any) // a no-path value names attributes by its keys
		}
		for path, value := range paths {
			if strings.EqualFold(path, "schemas") {
				continue // a client echoing the resource
			}
			steps, err := parsePath(&GroupResource, path)
			if err != nil {
				return nil, false
			}
			if steps[0].attr.Name != "members" {
				continue
			}
			var named []string
			switch {
			case steps[0].filter != nil:
				named, ok = valueEqualities(steps[0].filter)
			case len(steps) == 1 && (kind == opAdd || (kind == opRemove && value != nil)):
				named, ok = memberValues(value)
			default:
				ok = false
			}
			if !ok {
				return nil, false
			}
			ids = append(ids, named...)
		}
	}
	return ids, true
}

// valueEqualities returns x, y of `value eq "x" or value eq "y"`; ok is
// false for any other filter.
func valueEqualities(e filter.Expr) (values []string, ok bool) {
	switch e := e.(type) {
	case *filter.Compare:
		s, isString := e.Value.(string)
		return []string{s}, isString && e.Op == filter.Eq && strings.EqualFold(e.Attr, "value")
	case *filter.Or:
		left, ok := valueEqualities(e.Left)
		right, ok2 := valueEqualities(e.Right)
		return append(left, right...), ok && ok2
	}
	return nil, false
}

// memberValues returns the value sub-attributes of a members value: one
// member or a list of them; ok is false when one has no string value.
func memberValues(v any) (values []string, ok bool) {
	list, isList := v.([]any)
	if !isList {
		list = []any{v}
	}
	for _, m := range list {
		member, _ := m.(map[string]any)
		var value any
		for k, x := range member {
			if strings.EqualFold(k, "value") {
				value = x
			}
		}
		s, isString := value.(string)
		if !isString {
			return nil, false
		}
		values = append(values, s)
	}
	return values, true
}

// patchGroup applies a PatchOp to the group rendered with its members, then
// stores the difference: changed fields, and the members added and removed.
// It reads the group and its members in the transaction that stores the
// change, with the group locked, so a concurrent PATCH is neither lost nor
// undone. When the patch names the members it changes (as Okta and Entra
// do), only those are read, so its cost does not grow with the group.
func (h *Handler) patchGroup(w http.ResponseWriter, r *http.Request) {
	op, serr := decodePatch(w, r)
	if serr != nil {
		WriteError(w, r, serr)
		return
	}
	base := h.base(r)
	g, err := h.Directory.ChangeGroupWith(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("id"),
		func(ctx context.Context, before directory.Group, stored directory.GroupMembers) (directory.GroupChange, error) {
			if err := ifMatch(r, Version(before.UpdateTime)); err != nil {
				return directory.GroupChange{}, err
			}
			members, err := patchedMembers(ctx, op, stored)
			if err != nil {
				return directory.GroupChange{}, err
			}
			change, serr := planPatch(op, before, members, base)
			return change, asError(serr)
		})
	if err != nil {
		WriteError(w, r, memberError(err))
		return
	}
	w.Header().Set("ETag", Version(g.UpdateTime))
	w.WriteHeader(http.StatusNoContent)
}

// patchedMembers reads the members a PatchOp needs: those it names, or all.
func patchedMembers(ctx context.Context, op PatchOp, stored directory.GroupMembers) ([]directory.Identity, error) {
	named, ok := namedMembers(op)
	if !ok {
		return stored.All(ctx)
	}
	if len(named) == 0 {
		return nil, nil
	}
	// The patch compares these members by value alone: their ids will do.
	ids, err := stored.Among(ctx, slices.Compact(slices.Sorted(slices.Values(named))))
	var members []directory.Identity
	for _, id := range ids {
		members = append(members, directory.Identity{ID: id})
	}
	return members, err
}

// planPatch applies a PatchOp to a group and those of its members it needs,
// and returns the change that makes the stored group so.
func planPatch(op PatchOp, before directory.Group, members []directory.Identity, base string) (directory.GroupChange, *Error) {
	doc, err := ApplyPatch(ToDocument(GroupFromDirectory(before, members, base)), op, GroupResource)
	if err != nil {
		return directory.GroupChange{}, err
	}
	var after Group
	if err := FromDocument(doc, &after); err != nil {
		return directory.GroupChange{}, err
	}
	display, ext, ids, err := DirectoryFromGroup(after)
	if err != nil {
		return directory.GroupChange{}, err
	}
	old := make(map[string]bool, len(members))
	for _, m := range members {
		old[m.ID] = true
	}
	change := directory.GroupChange{RemoveUnknown: true}
	for _, id := range ids {
		if !old[id] {
			change.Add = append(change.Add, id)
		}
		delete(old, id)
	}
	change.Remove = slices.Sorted(maps.Keys(old))
	if display != before.DisplayName || ext != before.ExternalID {
		change.Edit = func(g *directory.Group) error {
			g.DisplayName, g.ExternalID = display, ext
			return nil
		}
	}
	return change, nil
}

// deleteGroup removes the group's members, then the group. If-Match is
// checked in the transaction that removes the members, before any is.
func (h *Handler) deleteGroup(w http.ResponseWriter, r *http.Request) {
	tenant, realm, id := r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("id")
	var check func(directory.Group) error
	if r.Header.Get("If-Match") != "" {
		check = func(g directory.Group) error { return ifMatch(r, Version(g.UpdateTime)) }
	}
	if err := h.Directory.DeleteGroupWithMembers(r.Context(), tenant, realm, id, check); err != nil {
		WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// ---- discovery

func (h *Handler) serviceProviderConfig(w http.ResponseWriter, r *http.Request) {
	WriteJSON(w, http.StatusOK, ServiceProviderConfig(h.base(r)))
}

func (h *Handler) resourceTypes(w http.ResponseWriter, r *http.Request) {
	serveDocuments(w, r, ResourceTypeDocuments(h.base(r)), func(d ResourceType) string { return d.ID }, "resource type")
}

func (h *Handler) schemas(w http.ResponseWriter, r *http.Request) {
	serveDocuments(w, r, SchemaDocuments(h.base(r)), func(d Schema) string { return d.ID }, "schema")
}

// serveDocuments answers a discovery list, or the one document the path's
// {id} names.
func serveDocuments[T any](w http.ResponseWriter, r *http.Request, docs []T, id func(T) string, kind string) {
	want := r.PathValue("id")
	if want == "" {
		out := make([]any, len(docs))
		for i, d := range docs {
			out[i] = d
		}
		WriteJSON(w, http.StatusOK, NewListResponse(out, len(out), 1))
		return
	}
	for _, d := range docs {
		if id(d) == want {
			WriteJSON(w, http.StatusOK, d)
			return
		}
	}
	WriteError(w, r, NotFound("%s %q not found", kind, want))
}
