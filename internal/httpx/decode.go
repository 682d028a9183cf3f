package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/latchkey/latchkey"
)

// MaxBody is the largest request body the API reads.
const MaxBody = 1 << 20

var errMalformed = latchkey.Errorf(latchkey.CodeBadRequest, "invalid request")

// ReadBody reads at most MaxBody bytes of the request body.
func ReadBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, latchkey.Errorf(latchkey.CodePayloadTooLarge, "request body is larger than 1 MiB")
	}
	if err != nil {
		return nil, errMalformed
	}
	return body, nil
}

// DecodeWrapped decodes a body of the form {"<key>": {…}} into dst, strictly:
// unknown fields and wrong types are 400s naming the field ("identity.foo").
// With bareOK the unwrapped object {…} is accepted too.
func DecodeWrapped(w http.ResponseWriter, r *http.Request, key string, dst any, bareOK bool) error {
	body, err := ReadBody(w, r)
	if err != nil {
		return err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		return errMalformed
	}
	inner, ok := top[key]
	switch {
	case ok && len(top) == 1:
	case !ok && bareOK:
		inner = body
	case !ok:
		return latchkey.InvalidField(key, "missing")
	default:
		for k := range top {
			if k != key {
				return latchkey.InvalidField(k, "unknown field")
			}
		}
	}
	return latchkey.WithFieldPrefix(StrictDecode(inner, dst), key+".")
}

// DecodeBody decodes a bare JSON object into dst, strictly.
func DecodeBody(w http.ResponseWriter, r *http.Request, dst any) error {
	body, err := ReadBody(w, r)
	if err != nil {
		return err
	}
	return StrictDecode(body, dst)
}

// StrictDecode decodes exactly one JSON object, rejecting unknown fields.
// Field names in errors are relative to the object.
func StrictDecode(data []byte, dst any) error {
	if t := bytes.TrimSpace(data); len(t) == 0 || t[0] != '{' {
		return errMalformed
	}
	if !utf8.Valid(data) {
		// encoding/json would store U+FFFD in place of the bad bytes.
		return latchkey.Errorf(latchkey.CodeBadRequest, "the request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		if dec.More() {
			return errMalformed
		}
		if _, err := dec.Token(); err != io.EOF {
			return errMalformed
		}
		return checkBodyText(data)
	case errors.As(err, &typeErr):
		return latchkey.InvalidField(typeErr.Field, "must be "+jsonType(typeErr.Type))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return latchkey.InvalidField(name, "unknown field")
	}
	return errMalformed
}

// checkBodyText refuses a body holding a string that is not acceptable text
// (latchkey.TextProblem), naming its field. A body of printable ASCII
// without escapes holds none, and is not decoded again.
func checkBodyText(data []byte) error {
	if !bytes.Contains(data, []byte(`\u`)) && !bytes.ContainsFunc(data, func(r rune) bool { return r > '~' }) {
		return nil
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return errMalformed
	}
	if field, problem := latchkey.JSONTextProblem(v); problem != "" {
		return latchkey.InvalidField(field, problem)
	}
	return nil
}

// jsonType names a Go type as JSON calls it.
func jsonType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Bool:
		return "a boolean"
	}
	return "a number"
}
