package latchkey

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
)

// Error codes of the management API; each is the lower_snake name of an HTTP status.
const (
	CodeBadRequest      = "bad_request"
	CodeUnauthorized    = "unauthorized"
	CodeForbidden       = "forbidden"
	CodeNotFound        = "not_found"
	CodeConflict        = "conflict"
	CodeGone            = "gone"
	CodePayloadTooLarge = "payload_too_large"
	CodeUnprocessable   = "unprocessable_entity"
	CodeTooManyRequests = "too_many_requests"
	CodeInternal        = "internal_server_error"
	CodeUnavailable     = "service_unavailable"
)

// Sentinel errors returned by stores; services turn them into an *Error that
// names the resource.
var (
	ErrNotFound  = errors.New("not found")
	ErrDuplicate = errors.New("duplicate")         // a unique constraint was violated
	ErrInUse     = errors.New("referenced")        // a delete would orphan other rows
	ErrNoParent  = errors.New("missing reference") // an insert refers to a row that is gone
)

// Error is an error the API shows to its caller, in the reference's error body.
type Error struct {
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Details []Detail `json:"details,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Detail is one typed entry of Error.Details; Type says which fields are set.
type Detail struct {
	Type            string           `json:"type"`
	FieldViolations []FieldViolation `json:"field_violations,omitempty"`
	ResourceType    string           `json:"resource_type,omitempty"`
	ID              string           `json:"id,omitempty"`
	Description     string           `json:"description,omitempty"`
	Errors          []BatchError     `json:"errors,omitempty"`
}

// FieldViolation says what is wrong with one request field.
type FieldViolation struct {
	Field       string `json:"field"`
	Description string `json:"description"`
}

// BatchError lists the ids of a batch that failed for one reason. The
// capitalised keys are the reference's.
type BatchError struct {
	Description  string   `json:"Description"`
	IDs          []string `json:"IDs"`
	ResourceType string   `json:"ResourceType"`
}

// Errorf returns an Error with a code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid is the 400 for request fields that fail validation.
func Invalid(violations ...FieldViolation) *Error {
	return &Error{Code: CodeBadRequest, Message: "invalid parameters",
		Details: []Detail{{Type: "FieldViolations", FieldViolations: violations}}}
}

// Violations collects the field violations of a request; Err is the 400
// naming them, or nil when there are none.
type Violations []FieldViolation

// Add records what is wrong with a field.
func (v *Violations) Add(field, description string) {
	*v = append(*v, FieldViolation{Field: field, Description: description})
}

// Err is Invalid with the violations, or nil.
func (v Violations) Err() error {
	if len(v) == 0 {
		return nil
	}
	return Invalid(v...)
}

// InvalidField is Invalid with a single violation.
func InvalidField(field, description string) *Error {
	return Invalid(FieldViolation{Field: field, Description: description})
}

// NotFound is the 404 for one missing resource, e.g. NotFound("Identity", id, "identity not found").
func NotFound(resourceType, id, message string) *Error {
	return &Error{Code: CodeNotFound, Message: message,
		Details: []Detail{{Type: "ResourceInfo", ResourceType: resourceType, ID: id, Description: message}}}
}

// IfNotFound turns a store's ErrNotFound into nf(id), the 404 of the
// resource that id names; any other error, or nil, is returned as it is.
func IfNotFound(err error, nf func(id string) error, id string) error {
	if errors.Is(err, ErrNotFound) {
		return nf(id)
	}
	return err
}

// BatchNotFound is the 404 of an all-or-nothing batch in which some ids do not exist.
func BatchNotFound(resourceType, message string, ids []string) *Error {
	return &Error{Code: CodeNotFound, Message: message, Details: []Detail{{
		Type:        "BatchOperationErrors",
		Description: "errors encountered performing batch operation",
		Errors:      []BatchError{{Description: message, IDs: ids, ResourceType: resourceType}},
	}}}
}

// WithFieldPrefix returns a copy of err whose field violations are prefixed,
// so that a service's "display_name" becomes the API's "identity.display_name".
// Other errors are returned unchanged.
func WithFieldPrefix(err error, prefix string) error {
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	out := *e
	out.Details = make([]Detail, len(e.Details))
	for i, d := range e.Details {
		if len(d.FieldViolations) > 0 {
			fv := make([]FieldViolation, len(d.FieldViolations))
			for j, v := range d.FieldViolations {
				fv[j] = FieldViolation{Field: prefix + v.Field, Description: v.Description}
			}
			d.FieldViolations = fv
		}
		out.Details[i] = d
	}
	return &out
}

// RetryAfter is how many seconds a client is told to wait (Retry-After)
// before it tries again a request that the database was unavailable for.
const RetryAfter = 5

// Unavailable reports whether err means that the database cannot be reached
// for now: a refused, lost or timed-out connection, a statement that never
// reached the server, or a server shutting down, starting up or out of
// connections. Such a request may succeed when retried, so it is a 503, not
// a 500; the connection pool replaces the broken connections by itself once
// the database is back.
func Unavailable(err error) bool {
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	// A statement that never reached the server (pgconn's SafeToRetry): its
	// connection was found closed as it was taken, which pgx's database/sql
	// driver answers as is from BeginTx (not as driver.ErrBadConn, which
	// database/sql would retry on another connection).
	var unsent interface{ SafeToRetry() bool }
	if errors.As(err, &unsent) && unsent.SafeToRetry() {
		return true
	}
	// PostgreSQL's SQLSTATE (pgconn.PgError has SQLState, so no driver is
	// imported here): class 08 is a connection exception, 57P01-57P03 a
	// shutdown or a start, 53300 too many connections.
	var state interface{ SQLState() string }
	if errors.As(err, &state) {
		code := state.SQLState()
		return strings.HasPrefix(code, "08") || code == "57P01" || code == "57P02" || code == "57P03" || code == "53300"
	}
	return false
}

// ErrorCode returns the code of err, or CodeInternal when err is not an *Error.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}
