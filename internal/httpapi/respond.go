package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

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
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError writes err in the API's error body. Errors that are not an
// *latchkey.Error are logged and shown as a 500 without their text.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *latchkey.Error
	if !errors.As(err, &e) {
		if r.Context().Err() == nil {
			slog.ErrorContext(r.Context(), "internal error", "err", err, "request_id", latchkey.RequestIDFrom(r.Context()))
		}
		e = errInternal
	}
	status, ok := statusOf[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	writeJSON(w, status, e)
}

// writeEmpty answers a successful delete: 200 with an empty body.
func writeEmpty(w http.ResponseWriter) { w.WriteHeader(http.StatusOK) }
