package scim

import (
	"encoding/json"
	"testing"
)

func TestErrorConstructors(t *testing.T) {
	cases := []struct {
		err      *Error
		status   int
		scimType string
	}{
		{InvalidFilter("f %d", 1), 400, "invalidFilter"},
		{TooMany("f %d", 1), 400, "tooMany"},
		{Uniqueness("f %d", 1), 409, "uniqueness"},
		{Mutability("f %d", 1), 400, "mutability"},
		{InvalidSyntax("f %d", 1), 400, "invalidSyntax"},
		{InvalidPath("f %d", 1), 400, "invalidPath"},
		{NoTarget("f %d", 1), 400, "noTarget"},
		{InvalidValue("f %d", 1), 400, "invalidValue"},
		{InvalidVersion("f %d", 1), 400, "invalidVers"},
		{Sensitive("f %d", 1), 403, "sensitive"},
		{NotFound("f %d", 1), 404, ""},
		{Unauthorized("f %d", 1), 401, ""},
		{Forbidden("f %d", 1), 403, ""},
		{PreconditionFailed("f %d", 1), 412, ""},
		{PayloadTooLarge("f %d", 1), 413, ""},
		{NewError(429, "", "f 1"), 429, ""},
	}
	for _, c := range cases {
		if c.err.HTTPStatus() != c.status || c.err.ScimType != c.scimType || c.err.Detail != "f 1" {
			t.Errorf("%+v: want status %d, scimType %q", c.err, c.status, c.scimType)
		}
		var body map[string]any
		b, _ := json.Marshal(c.err)
		if err := json.Unmarshal(b, &body); err != nil {
			t.Fatal(err)
		}
		schemas, _ := body["schemas"].([]any)
		if len(schemas) != 1 || schemas[0] != SchemaError || body["status"] != c.err.Status {
			t.Errorf("body %s", b)
		}
		if _, has := body["scimType"]; has != (c.scimType != "") {
			t.Errorf("body %s: scimType present = %v", b, has)
		}
	}
}
