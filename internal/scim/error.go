package scim

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/latchkey/latchkey"
)

// Error is a SCIM error response (RFC 7644 §3.12). Status is the HTTP status
// code as a string, as the RFC wants; ScimType is set for the 400s (and 409,
// 403) that have one.
type Error struct {
	Schemas  []string `json:"schemas"`
	Status   string   `json:"status"`
	ScimType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail,omitempty"`
}

func (e *Error) Error() string {
	s := "scim " + e.Status
	if e.ScimType != "" {
		s += " " + e.ScimType
	}
	return s + ": " + e.Detail
}

// HTTPStatus returns Status as a number.
func (e *Error) HTTPStatus() int {
	n, err := strconv.Atoi(e.Status)
	if err != nil {
		return http.StatusInternalServerError
	}
	return n
}

// NewError returns an Error of any status, scimType (may be empty) and detail.
func NewError(status int, scimType, detail string) *Error {
	return &Error{Schemas: []string{SchemaError}, Status: strconv.Itoa(status), ScimType: scimType, Detail: detail}
}

func newError(status int, scimType, format string, args []any) *Error {
	return NewError(status, scimType, fmt.Sprintf(format, args...))
}

// The errors of RFC 7644 §3.12, one constructor per scimType; details are
// formatted as by fmt.Sprintf.

// InvalidFilter: the filter is malformed, names an unknown attribute, or
// compares in a way the attribute does not support.
func InvalidFilter(format string, args ...any) *Error {
	return newError(http.StatusBadRequest, "invalidFilter", format, args)
}

// TooMany: the filter yields more results than the server will process.
func TooMany(format string, args ...any) *Error {
	return newError(http.StatusBadRequest, "tooMany", format, args)
}

// Uniqueness (409): a value is already in use, e.g. a taken userName.
func Uniqueness(format string, args ...any) *Error {
	return newError(http.StatusConflict, "uniqueness", format, args)
}

// Mutability: the change is not allowed by the attribute's mutability.
func Mutability(format string, args ...any) *Error {
	return newError(http.StatusBadRequest, "mutability", format, args)
}

// InvalidSyntax: the request body is not a valid message.
func InvalidSyntax(format string, args ...any) *Error {
	return newError(http.StatusBadRequest, "invalidSyntax", format, args)
}

// InvalidPath: a PATCH path is malformed or names an unknown attribute.
func InvalidPath(format string, args ...any) *Error {
	return newError(http.StatusBadRequest, "invalidPath", format, args)
}

// NoTarget: a PATCH path matched nothing where it must, or remove had no path.
func NoTarget(format string, args ...any) *Error {
	return newError(http.StatusBadRequest, "noTarget", format, args)
}

// InvalidValue: a value is missing, of the wrong type, or not storable.
func InvalidValue(format string, args ...any) *Error {
	return newError(http.StatusBadRequest, "invalidValue", format, args)
}

// InvalidVersion: the request names an unsupported protocol version
// (scimType invalidVers).
func InvalidVersion(format string, args ...any) *Error {
	return newError(http.StatusBadRequest, "invalidVers", format, args)
}

// Sensitive (403): personal information was passed in a request URI
// (RFC 7644 §7.5.2).
func Sensitive(format string, args ...any) *Error {
	return newError(http.StatusForbidden, "sensitive", format, args)
}

// NotFound (404): the resource does not exist.
func NotFound(format string, args ...any) *Error {
	return newError(http.StatusNotFound, "", format, args)
}

// Unauthorized (401): no valid bearer token.
func Unauthorized(format string, args ...any) *Error {
	return newError(http.StatusUnauthorized, "", format, args)
}

// Forbidden (403): the token lacks the scope.
func Forbidden(format string, args ...any) *Error {
	return newError(http.StatusForbidden, "", format, args)
}

// PreconditionFailed (412): If-Match names another version.
func PreconditionFailed(format string, args ...any) *Error {
	return newError(http.StatusPreconditionFailed, "", format, args)
}

// PayloadTooLarge (413): the body exceeds the limits.
func PayloadTooLarge(format string, args ...any) *Error {
	return newError(http.StatusRequestEntityTooLarge, "", format, args)
}

// withPrefix returns a copy of e whose detail starts with prefix.
func (e *Error) withPrefix(prefix string) *Error {
	out := *e
	out.Detail = prefix + e.Detail
	return &out
}

// as returns a copy of e with another scimType, for errors of a helper that
// mean something else where it is used (an invalid path inside a filter).
func (e *Error) as(scimType string) *Error {
	out := *e
	out.ScimType = scimType
	return &out
}

// FromError turns an error of the directory service into a SCIM error: field
// violations become invalidValue naming SCIM attributes, conflicts become 409
// uniqueness, a missing resource 404, an unavailable database 503. Anything
// unknown is a 500 that reveals nothing.
func FromError(err error) *Error {
	var se *Error
	if errors.As(err, &se) {
		return se
	}
	var le *latchkey.Error
	if !errors.As(err, &le) {
		if latchkey.Unavailable(err) {
			return unavailable()
		}
		return NewError(http.StatusInternalServerError, "", "internal server error")
	}
	switch le.Code {
	case latchkey.CodeBadRequest:
		return InvalidValue("%s", violations(le))
	case latchkey.CodeConflict:
		return Uniqueness("%s", le.Message)
	case latchkey.CodeNotFound:
		return NotFound("%s", le.Message)
	case latchkey.CodeUnauthorized:
		return Unauthorized("%s", le.Message)
	case latchkey.CodeForbidden:
		return Forbidden("%s", le.Message)
	case latchkey.CodePayloadTooLarge:
		return PayloadTooLarge("%s", le.Message)
	case latchkey.CodeTooManyRequests:
		return NewError(http.StatusTooManyRequests, "", le.Message)
	case latchkey.CodeUnprocessable:
		return InvalidValue("%s", le.Message)
	case latchkey.CodeUnavailable:
		return unavailable()
	}
	return NewError(http.StatusInternalServerError, "", "internal server error")
}

func unavailable() *Error {
	return NewError(http.StatusServiceUnavailable, "", "the database is unavailable; try again later")
}

// violations renders the field violations of e with SCIM attribute names.
func violations(e *latchkey.Error) string {
	var parts []string
	for _, d := range e.Details {
		for _, v := range d.FieldViolations {
			parts = append(parts, scimField(v.Field)+": "+v.Description)
		}
	}
	if len(parts) == 0 {
		return e.Message
	}
	return strings.Join(parts, "; ")
}
