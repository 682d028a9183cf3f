package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/latchkey/latchkey"
)

// statusOf maps an error code to its HTTP status.
var statusOf = map[string]int{
	latchkey.CodeBadRequest:      http.StatusBadRequest,
	latchkey.CodeUnauthorized:    http.StatusUnauthorized,
	latchkey.CodeForbidden:       http.StatusForbidden,
	latchkey.CodeNotFound:        http.StatusNotFound,
	codeMethodNotAllowed:         http.StatusMethodNotAllowed,
	latchkey.CodeConflict:        http.StatusConflict,
	latchkey.CodeGone:            http.StatusGone,
	latchkey.CodePayloadTooLarge: http.StatusRequestEntityTooLarge,
	latchkey.CodeUnprocessable:   http.StatusUnprocessableEntity,
	latchkey.CodeTooManyRequests: http.StatusTooManyRequests,
	latchkey.CodeInternal:        http.StatusInternalServerError,
	latchkey.CodeUnavailable:     http.StatusServiceUnavailable,
}

const codeMethodNotAllowed = "method_not_allowed"

var (
	errUnauthorized    = latchkey.Errorf(latchkey.CodeUnauthorized, "unauthorized")
	errForbidden       = latchkey.Errorf(latchkey.CodeForbidden, "forbidden")
	errNotFound        = latchkey.Errorf(latchkey.CodeNotFound, "not found")
	errTooManyRequests = latchkey.Errorf(latchkey.CodeTooManyRequests, "too many requests")
	errInternal        = latchkey.Errorf(latchkey.CodeInternal, "internal server error")
	errUnavailable     = latchkey.Errorf(latchkey.CodeUnavailable, "the database is unavailable; try again later")
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError writes err in the API's error body. Errors that are not an
// *latchkey.Error are logged with the request's id and shown without their
// text: as a 503 with Retry-After when the database is unavailable, else
// as a 500.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *latchkey.Error
	if !errors.As(err, &e) {
		e = fault(r, err)
	}
	status, ok := statusOf[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(latchkey.RetryAfter))
	}
	writeJSON(w, status, e)
}

// fault logs an error that is no answer to the client (unless the client
// went away) and returns what the client is told instead.
func fault(r *http.Request, err error) *latchkey.Error {
	ctx := r.Context()
	if latchkey.Unavailable(err) {
		if ctx.Err() == nil {
			slog.WarnContext(ctx, "database unavailable", "err", err, "request_id", latchkey.RequestIDFrom(ctx))
		}
		return errUnavailable
	}
	if ctx.Err() == nil {
		slog.ErrorContext(ctx, "internal error", "err", err, "request_id", latchkey.RequestIDFrom(ctx))
	}
	return errInternal
}

// writeEmpty answers a successful delete: 200 with an empty body.
func writeEmpty(w http.ResponseWriter) { w.WriteHeader(http.StatusOK) }
