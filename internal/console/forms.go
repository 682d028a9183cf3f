package console

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/latchkey/latchkey"
)

// form is what a console form shows again: the values typed (the choices
// ticked, for a list of checkboxes) and the message of each field the
// service refused, plus one for the whole form.
type form struct {
	Values  map[string]string
	Lists   map[string][]string
	Errors  map[string]string
	Message string
}

// newForm returns a form holding the posted values of names.
func (q *request) newForm(names ...string) *form {
	f := &form{Values: map[string]string{}, Lists: map[string][]string{}, Errors: map[string]string{}}
	for _, n := range names {
		f.Values[n] = strings.TrimSpace(q.PostFormValue(n))
	}
	return f
}

// withLists adds the choices posted for each checkbox list of names.
func (f *form) withLists(q *request, names ...string) *form {
	for _, n := range names {
		f.Lists[n] = q.PostForm[n]
		f.Values[n] = "" // so that refused shows the list's violations on it
	}
	return f
}

// lines splits a textarea's text into its non-empty lines, trimmed.
func lines(text string) []string {
	out := []string{}
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// refused puts a service's refusal on the form: each field violation on its
// field (named as in the API, e.g. "traits.username"), a conflict on the
// field it concerns, anything else as the form's message. It reports false
// for errors that are no refusal (a server fault), for the caller to return.
func (f *form) refused(err error, conflictField string) bool {
	var e *latchkey.Error
	if !errors.As(err, &e) || e.Code == latchkey.CodeInternal || e.Code == latchkey.CodeUnavailable {
		return false
	}
	for _, d := range e.Details {
		for _, v := range d.FieldViolations {
			if v.Description == "empty string" { // the services' word for a missing value
				v.Description = "Required: fill this in."
			}
			if hasValue(f, v.Field) {
				f.Errors[v.Field] = v.Description
			} else if list, entry, ok := listEntry(v.Field); ok && hasValue(f, list) {
				f.Errors[list] = joinMessage(f.Errors[list], "entry "+entry+": "+v.Description)
			} else {
				f.Message = joinMessage(f.Message, v.Field+": "+v.Description)
			}
		}
	}
	if e.Code == latchkey.CodeConflict && conflictField != "" {
		f.Errors[conflictField] = e.Message
	} else if len(f.Errors) == 0 && f.Message == "" {
		f.Message = e.Message
	}
	return true
}

// listEntry splits the field of one entry of a list, "redirect_uris[1]" or
// "methods[0].type", into the list and the entry's number counted from 1,
// as a textarea's lines are.
func listEntry(field string) (list, entry string, ok bool) {
	open := strings.IndexByte(field, '[')
	end := strings.IndexByte(field, ']')
	if open < 0 || end < open {
		return "", "", false
	}
	n, err := strconv.Atoi(field[open+1 : end])
	if err != nil {
		return "", "", false
	}
	return field[:open], strconv.Itoa(n + 1), true
}

func hasValue(f *form, name string) bool {
	_, ok := f.Values[name]
	return ok
}

// refusal is a service's refusal as one message, for a form without fields
// of its own to put it on; ok is false for errors that are no refusal.
func refusal(err error) (message string, ok bool) {
	f := form{Values: map[string]string{}, Errors: map[string]string{}}
	ok = f.refused(err, "")
	return f.Message, ok
}

func joinMessage(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// ptr returns a pointer to v, for the services' patches.
func ptr(v string) *string { return &v }

// option is one choice of a select or a list of checkboxes.
type option struct{ Value, Label string }

// confirmation is a page that asks before a destructive action: by typing
// the resource's name when Name is set, else by its button alone.
type confirmation struct {
	Title   string
	Warning string // what the action does, and what cannot be undone
	Name    string
	Action  string // the path the form posts to
	Button  string
	Cancel  string // the path back
	Section string
	Error   string
}

func (q *request) confirm(status int, c confirmation) {
	q.render(status, "confirm.html", c.Title, c.Section, c)
}

// confirmed runs act once the form of c was confirmed. A wrong name, or a
// conflict that act meets (a resource in use, a managed one), shows the
// page again with the reason, and confirmed reports false; other errors are
// the caller's to return.
func (q *request) confirmed(c confirmation, act func() error) (bool, error) {
	if c.Name != "" && strings.TrimSpace(q.PostFormValue("confirm")) != c.Name {
		c.Error = "Type the name exactly to confirm."
		q.confirm(http.StatusUnprocessableEntity, c)
		return false, nil
	}
	err := act()
	var e *latchkey.Error
	if errors.As(err, &e) && e.Code == latchkey.CodeConflict {
		c.Error = strings.ToUpper(e.Message[:1]) + e.Message[1:] + "."
		q.confirm(http.StatusConflict, c)
		return false, nil
	}
	return err == nil, err
}
