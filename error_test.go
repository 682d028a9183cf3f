package latchkey_test

import (
	"errors"
	"testing"

	"github.com/latchkey/latchkey"
)

func TestViolations(t *testing.T) {
	var v latchkey.Violations
	if err := v.Err(); err != nil {
		t.Errorf("no violations: %v, want nil", err)
	}
	v.Add("a", "empty string")
	v.Add("b.c", "too long")
	var e *latchkey.Error
	if !errors.As(v.Err(), &e) || e.Code != latchkey.CodeBadRequest || len(e.Details) != 1 ||
		len(e.Details[0].FieldViolations) != 2 || e.Details[0].FieldViolations[1].Field != "b.c" {
		t.Errorf("two violations: %+v", v.Err())
	}
}
