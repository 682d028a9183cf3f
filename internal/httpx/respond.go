package httpx

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/oauth"
)

// statusOf maps an error code to its HTTP status.
var statusOf = map[string]int{
	latchkey.CodeBadRequest:      http.StatusBadRequest,
	latchkey.CodeUnauthorized:    http.StatusUnauthorized,
	latchkey.CodeForbidden:       http.StatusForbidden,
	latchkey.CodeNotFound:        http.StatusNotFound,
	CodeMethodNotAllowed:         http.StatusMethodNotAllowed,
	latchkey.CodeConflict:        http.StatusConflict,
	latchkey.CodeGone:            http.StatusGone,
	latchkey.CodePayloadTooLarge: http.StatusRequestEntityTooLarge,
	latchkey.CodeUnprocessable:   http.StatusUnprocessableEntity,
	latchkey.CodeTooManyRequests: http.StatusTooManyRequests,
	latchkey.CodeInternal:        http.StatusInternalServerError,
	latchkey.CodeUnavailable:     http.StatusServiceUnavailable,
}

// CodeMethodNotAllowed is the code of a 405.
const CodeMethodNotAllowed = "method_not_allowed"

// Status is the HTTP status of an error code; an unknown code is a 500.
func Status(code string) int {
	if status, ok := statusOf[code]; ok {
		return status
	}
	return http.StatusInternalServerError
}

// The errors the HTTP packages answer themselves.
var (
	ErrUnauthorized    = latchkey.Errorf(latchkey.CodeUnauthorized, "unauthorized")
	ErrForbidden       = latchkey.Errorf(latchkey.CodeForbidden, "forbidden")
	ErrNotFound        = latchkey.Errorf(latchkey.CodeNotFound, "not found")
	ErrTooManyRequests = latchkey.Errorf(latchkey.CodeTooManyRequests, "too many requests")
	ErrInternal        = latchkey.Errorf(latchkey.CodeInternal, "internal server error")
	ErrUnavailable     = latchkey.Errorf(latchkey.CodeUnavailable, "the database is unavailable; try again later")
)

// WriteJSON writes v as JSON with the status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// WriteError writes err in the API's error body. Errors that are not an
// *latchkey.Error are logged with the request's id and shown without their
// text: as a 503 with Retry-After when the database is unavailable, else
// as a 500.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	var e *latchkey.Error
	if !errors.As(err, &e) {
		e = Fault(r, err)
	}
	status := Status(e.Code)
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(latchkey.RetryAfter))
	}
	WriteJSON(w, status, e)
}

// Fault logs an error that is no answer to the client (unless the client
// went away) and returns what the client is told instead.
func Fault(r *http.Request, err error) *latchkey.Error {
	ctx := r.Context()
	if latchkey.Unavailable(err) {
		if ctx.Err() == nil {
			latchkey.LoggerFrom(ctx).WarnContext(ctx, "database unavailable", "err", err, "request_id", latchkey.RequestIDFrom(ctx))
		}
		return ErrUnavailable
	}
	if ctx.Err() == nil {
		latchkey.LoggerFrom(ctx).ErrorContext(ctx, "internal error", "err", err, "request_id", latchkey.RequestIDFrom(ctx))
	}
	return ErrInternal
}

// Reply writes v as a 200, or the error.
func Reply(w http.ResponseWriter, r *http.Request, v any, err error) {
	if err != nil {
		WriteError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, v)
}

// ReplyEmpty writes the 200 with an empty body of a delete, or the error.
func ReplyEmpty(w http.ResponseWriter, r *http.Request, err error) {
	if err != nil {
		WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// WriteOAuthError writes err in OAuth's error body (RFC 6749 §5.2): a 400,
// or a 401 asking for HTTP Basic for invalid_client. An error that is no
// *oauth.Error is written as WriteError does.
func WriteOAuthError(w http.ResponseWriter, r *http.Request, err error) {
	var e *oauth.Error
	if !errors.As(err, &e) {
		WriteError(w, r, err)
		return
	}
	status := http.StatusBadRequest
	if e.Code == "invalid_client" {
		status = http.StatusUnauthorized
		w.Header().Set("WWW-Authenticate", `Basic realm="latchkey"`)
	}
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, status, e)
}

// ClientCredentials are an OAuth client's id and secret, by HTTP Basic or
// in the parsed form (RFC 6749 §2.3.1).
func ClientCredentials(r *http.Request) (id, secret string) {
	if id, secret, ok := r.BasicAuth(); ok {
		return id, secret
	}
	return r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
}

// Bearer returns the token of an "Authorization: Bearer …" header.
func Bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	return token, ok && strings.EqualFold(scheme, "Bearer") && token != ""
}
