package console

import (
	"errors"
	"strings"

	"github.com/latchkey/latchkey"
)

// form is what a console form shows again: the values typed and the
// message of each field the service refused, plus one for the whole form.
type form struct {
	Values  map[string]string
	Errors  map[string]string
	Message string
}

// newForm returns a form holding the posted values of names.
func (q *request) newForm(names ...string) *form {
	f := &form{Values: map[string]string{}, Errors: map[string]string{}}
	for _, n := range names {
		f.Values[n] = strings.TrimSpace(q.PostFormValue(n))
	}
	return f
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
			if _, shown := f.Values[v.Field]; shown {
				f.Errors[v.Field] = v.Description
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

func joinMessage(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// ptr returns a pointer to v, for the services' patches.
func ptr(v string) *string { return &v }
