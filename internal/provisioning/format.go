package provisioning

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
)

// Columns of the CSV format other than traits by their own names.
const (
	colDisplayName = "display_name"
	colStatus      = "status"
	colGroups      = "groups"
	colError       = "error" // of an error report; ignored, so that a fixed report imports as is
)

// aliases are column names that stand for a trait of another name.
var aliases = map[string]string{"email": "primary_email_address"}

// ExportColumns are the columns of an export, in order: the usual ones
// first, then every other trait.
var ExportColumns = func() []string {
	cols := []string{"username", "email", colDisplayName, "given_name", "family_name", "external_id", colStatus, colGroups}
	for _, name := range directory.TraitNames {
		switch name {
		case "username", "primary_email_address", "given_name", "family_name", "external_id":
		default:
			cols = append(cols, name)
		}
	}
	return cols
}()

// header is the meaning of a file's columns.
type header struct {
	names  []string // as the file spells them
	target []string // per column: a trait name, colDisplayName, colStatus, colGroups or colError
	has    map[string]bool
}

// target returns what a column name stands for, or "" when nothing.
func target(name string) string {
	if t, ok := aliases[name]; ok {
		return t
	}
	switch name {
	case colDisplayName, colStatus, colGroups, colError:
		return name
	case "type":
		return ""
	}
	var probe directory.Traits
	if probe.Field(name) != nil {
		return name
	}
	return ""
}

// parseHeader reads the header record: names are case-insensitive and in
// any order; username is required; unknown and repeated columns are errors.
func parseHeader(rec record) (header, error) {
	if rec.err != "" {
		return header{}, latchkey.InvalidField("file", fmt.Sprintf("line %d: %s", rec.line, rec.err))
	}
	h := header{names: rec.fields, target: make([]string, len(rec.fields)), has: map[string]bool{}}
	var v []latchkey.FieldViolation
	seen := map[string]string{}
	for i, raw := range rec.fields {
		name := strings.ToLower(strings.TrimSpace(raw))
		t := target(name)
		switch {
		case latchkey.TextProblem(name, false) != "":
			v = append(v, latchkey.FieldViolation{Field: "header", Description: fmt.Sprintf("column %d: %s", i+1, latchkey.TextProblem(name, false))})
		case t == "":
			v = append(v, latchkey.FieldViolation{Field: "header", Description: fmt.Sprintf("unknown column %q", raw)})
		case seen[t] != "":
			v = append(v, latchkey.FieldViolation{Field: "header", Description: fmt.Sprintf("column %q repeats column %q", raw, seen[t])})
		default:
			seen[t] = raw
		}
		h.target[i] = t
		h.has[t] = true
	}
	if !h.has["username"] && len(v) == 0 {
		v = append(v, latchkey.FieldViolation{Field: "header", Description: `the column "username" is required`})
	}
	if len(v) > 0 {
		return header{}, latchkey.Invalid(v...)
	}
	return h, nil
}

// column names the file's column for a directory field ("traits.given_name").
func (h header) column(field string) string {
	t := strings.TrimPrefix(field, "traits.")
	for i, tt := range h.target {
		if tt == t {
			return strings.TrimSpace(h.names[i])
		}
	}
	return t
}

// row is one data record, read into identity fields.
type row struct {
	line        int
	fields      []string // as read, for the error report
	raw         string   // an unreadable record's text
	key         string   // the folded username
	traits      directory.Traits
	displayName string
	status      string
	groups      []string
	err         string // why the row fails, "" when it may proceed
}

// maxGroupsPerRow bounds the group names of one row.
const maxGroupsPerRow = 100

// parseRow reads a record into a row. It checks what only the file can get
// wrong (encoding, shape, group names); the identity itself is checked with
// the directory's rules when it is built.
func (h header) parseRow(rec record) row {
	r := row{line: rec.line, fields: rec.fields, raw: rec.raw, err: rec.err}
	if r.err != "" {
		return r
	}
	if len(rec.fields) != len(h.target) {
		r.err = fmt.Sprintf("has %d fields, the header has %d", len(rec.fields), len(h.target))
		return r
	}
	r.traits.Type = directory.TraitsV0
	for i, raw := range rec.fields {
		if !utf8.ValidString(raw) {
			r.err = fmt.Sprintf("%s: not valid UTF-8 (the file must be UTF-8)", strings.TrimSpace(h.names[i]))
			return r
		}
		// A quoted cell may span lines; a NUL or other control character
		// may never reach the store (directory rules refuse line breaks
		// where they make no sense).
		if p := latchkey.TextProblem(raw, true); p != "" {
			r.err = fmt.Sprintf("%s: %s", strings.TrimSpace(h.names[i]), p)
			return r
		}
		v := Unneutralize(strings.TrimSpace(raw))
		switch t := h.target[i]; t {
		case colError:
		case colDisplayName:
			r.displayName = v
		case colStatus:
			r.status = strings.ToLower(v)
		case colGroups:
			r.groups = splitGroups(v)
			if len(r.groups) > maxGroupsPerRow {
				r.err = fmt.Sprintf("%s: more than %d groups", strings.TrimSpace(h.names[i]), maxGroupsPerRow)
				return r
			}
		default:
			*r.traits.Field(t) = v
		}
	}
	r.key = directory.Fold(r.traits.Username)
	if r.key == "" {
		r.err = h.column("traits.username") + ": empty"
	}
	return r
}

// splitGroups splits "a; b;;c" into its names, without repeats.
func splitGroups(v string) []string {
	var out []string
	seen := map[string]bool{}
	for name := range strings.SplitSeq(v, ";") {
		name = strings.TrimSpace(name)
		if k := directory.Fold(name); name != "" && !seen[k] {
			seen[k] = true
			out = append(out, name)
		}
	}
	return out
}

// newIdentity is the identity a row asks to create, as an API request
// would; directory.NewIdentity decides the rest. A missing display name is
// the given and family names when they make a valid one, or else the
// username.
func (r row) newIdentity() directory.Identity {
	i := directory.Identity{DisplayName: r.displayName, Status: r.status, Traits: r.traits}
	if i.DisplayName == "" {
		i.DisplayName = strings.TrimSpace(r.traits.GivenName + " " + r.traits.FamilyName)
		if directory.NameProblem(i.DisplayName, true, 64) != "" {
			i.DisplayName = r.traits.Username
		}
	}
	return i
}

// applyTo returns existing changed as the row says: every trait column the
// file has is set (an empty cell clears the trait); display name and status
// change only when the cell is not empty.
func (r row) applyTo(h header, existing directory.Identity) directory.Identity {
	i := existing
	for _, t := range h.target {
		if f := i.Traits.Field(t); f != nil {
			*f = *r.traits.Field(t)
		}
	}
	if r.displayName != "" {
		i.DisplayName = r.displayName
	}
	if r.status != "" {
		i.Status = r.status
	}
	return i
}

// problem describes a directory validation error in the file's column names.
func (h header) problem(err error) string {
	e, ok := err.(*latchkey.Error)
	if !ok || len(e.Details) == 0 {
		return err.Error()
	}
	var parts []string
	for _, d := range e.Details {
		for _, fv := range d.FieldViolations {
			parts = append(parts, h.column(fv.Field)+": "+fv.Description)
		}
	}
	if len(parts) == 0 {
		return e.Message
	}
	return strings.Join(parts, "; ")
}
