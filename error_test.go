package latchkey_test

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
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

func TestIfNotFound(t *testing.T) {
	nf := func(id string) error { return latchkey.NotFound("Realm", id, "realm not found") }
	var e *latchkey.Error
	err := latchkey.IfNotFound(fmt.Errorf("get: %w", latchkey.ErrNotFound), nf, "r1")
	if !errors.As(err, &e) || e.Code != latchkey.CodeNotFound || e.Details[0].ID != "r1" {
		t.Errorf("store's ErrNotFound: %v, want the realm's 404", err)
	}
	other := errors.New("connection refused")
	if err := latchkey.IfNotFound(other, nf, "r1"); err != other {
		t.Errorf("other error: %v, want it as it is", err)
	}
	if err := latchkey.IfNotFound(nil, nf, "r1"); err != nil {
		t.Errorf("nil: %v, want nil", err)
	}
}

// sqlState and unsent stand for driver errors: pgconn's PgError and its
// errors that say whether a statement was sent.
type sqlState string

func (s sqlState) Error() string    { return "SQLSTATE " + string(s) }
func (s sqlState) SQLState() string { return string(s) }

type unsent bool

func (u unsent) Error() string     { return "conn closed" }
func (u unsent) SafeToRetry() bool { return bool(u) }

func TestUnavailable(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, true},
		{fmt.Errorf("begin: %w", driver.ErrBadConn), true},
		{io.ErrUnexpectedEOF, true},
		{sqlState("08006"), true},
		{sqlState("57P01"), true},
		{sqlState("53300"), true},
		{fmt.Errorf("begin: %w", unsent(true)), true},
		{unsent(false), false},
		{sqlState("23505"), false},
		{errors.New("internal"), false},
		{nil, false},
	} {
		if got := latchkey.Unavailable(c.err); got != c.want {
			t.Errorf("Unavailable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
