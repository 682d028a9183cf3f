package otp

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	netmail "net/mail"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/filter"
	"github.com/latchkey/latchkey/internal/mail"
	"github.com/latchkey/latchkey/internal/passkey"
)

// The rules of a code.
const (
	// CodeTTL is how long a code can be used.
	CodeTTL = 10 * time.Minute
	// MaxTries is how many times a code can be tried, right or wrong: the
	// next try is refused even with the right code.
	MaxTries = 5
	// Digits is the length of a code.
	Digits = 6
)

// Default request limits (Service.AddressLimit, IPLimit, LimitWindow): with
// 5 codes an hour of 5 tries each, guessing one code of a million takes
// years, and an address gets at most 5 e-mails an hour.
const (
	DefaultAddressLimit = 5
	DefaultIPLimit      = 100
	DefaultLimitWindow  = time.Hour
)

// Code is the live code of an e-mail address of a realm.
type Code struct {
	TenantID, RealmID string
	Address           string // case-folded
	IdentityID        string // "" when no active identity has the address
	Hash              string // hex MAC of the code, never the code
	Tries             int
	CreateTime        time.Time
	ExpireTime        time.Time
}

// Tx reads and writes codes inside one transaction, with the identities
// they are for and the binding jobs they create.
type Tx interface {
	passkey.Tx
	// ListIdentities is directory.Tx's: the identities with an address.
	ListIdentities(ctx context.Context, realmID string, opts latchkey.ListOptions) ([]directory.Identity, int, error)
	// PutEmailCode stores c as its address's one live code, replacing any.
	PutEmailCode(ctx context.Context, c Code) error
	// GetEmailCode returns latchkey.ErrNotFound when the address has no code.
	GetEmailCode(ctx context.Context, realmID, address string) (Code, error)
	// TryEmailCode counts one try of the code whose hash is hash, if it is
	// still the address's code and has had fewer than max tries; otherwise
	// latchkey.ErrNotFound. Of concurrent tries at most max are counted.
	TryEmailCode(ctx context.Context, realmID, address, hash string, max int) error
	// DeleteEmailCode spends the code whose hash is hash; latchkey.ErrNotFound
	// when it is no longer the address's code (spent or replaced meanwhile).
	DeleteEmailCode(ctx context.Context, realmID, address, hash string) error
	// CountEmailCodeRequest counts one request under key in the fixed window
	// of length window that now falls in, and returns the window's count.
	CountEmailCodeRequest(ctx context.Context, key string, now time.Time, window time.Duration) (int, error)
	// DeleteExpiredEmailCodes deletes codes expired at now and request
	// counts of windows that started before windowsBefore.
	DeleteExpiredEmailCodes(ctx context.Context, now, windowsBefore time.Time) (int, error)
}

// Store is code storage; Update runs fn in one read-write transaction.
type Store interface {
	Tx
	Update(ctx context.Context, fn func(Tx) error) error
}

// Refusals, worded for the person at the page. Known and unknown addresses
// get the same ones.
var (
	ErrNotOffered   = latchkey.Errorf(latchkey.CodeForbidden, "this application does not offer sign-in codes by e-mail")
	ErrNoSignIn     = latchkey.Errorf(latchkey.CodeForbidden, "this application does not let a code by e-mail sign in; use it to create a passkey")
	ErrNoEnroll     = latchkey.Errorf(latchkey.CodeForbidden, "this application does not let a code by e-mail create a passkey")
	ErrRateLimited  = latchkey.Errorf(latchkey.CodeTooManyRequests, "too many codes were asked for; wait a while and try again")
	ErrNoCode       = latchkey.Errorf(latchkey.CodeGone, "no code is waiting for this address; ask for a new one")
	ErrExpired      = latchkey.Errorf(latchkey.CodeGone, "this code has expired; ask for a new one")
	ErrTooManyTries = latchkey.Errorf(latchkey.CodeGone, "this code was tried too many times; ask for a new one")
	ErrInactive     = latchkey.Errorf(latchkey.CodeForbidden, "this account is suspended")
)

// wrong is the refusal of a wrong code that may still be tried left times.
func wrong(left int) error {
	return latchkey.Errorf(latchkey.CodeUnauthorized, "this code is not right; %d %s left", left, map[bool]string{true: "try", false: "tries"}[left == 1])
}

// Service applies the rules of e-mail codes on top of its Store.
type Service struct {
	store    Store
	passkeys *passkey.Service
	mac      func([]byte) []byte
	// AddressLimit and IPLimit are how many codes an address of a realm,
	// and a client IP, may ask for per LimitWindow; zero means the default.
	AddressLimit, IPLimit int
	LimitWindow           time.Duration
	// MailQueued, when set, is called after a code's e-mail was queued,
	// so that delivery can start at once.
	MailQueued func()
	// Clock dates codes and decides when they expire.
	Clock latchkey.Clock
}

// NewService returns a Service over store that creates binding jobs with
// passkeys and hashes codes with mac (secretbox.Box.MAC).
func NewService(store Store, passkeys *passkey.Service, mac func([]byte) []byte) *Service {
	return &Service{store: store, passkeys: passkeys, mac: mac}
}

// Request is a request for a code.
type Request struct {
	TenantID, RealmID string
	// Config is the authenticator config of the application asked from.
	Config passkey.Config
	// Address is the e-mail address typed; IP the client's.
	Address, IP string
}

// foldAddress checks an e-mail address and returns its case-folded form,
// the key of its code.
func foldAddress(field, s string) (string, error) {
	a, err := netmail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > 254 {
		return "", latchkey.InvalidField(field, "not a valid e-mail address")
	}
	return directory.Fold(s), nil
}

// Request makes a new code for an address, replacing its live one, and
// e-mails it if exactly one active identity of the realm has the address.
// Whether one does is not told: an unknown address is answered, counted and
// stored alike (with no e-mail). Past the limits ErrRateLimited refuses.
func (s *Service) Request(ctx context.Context, r Request) error {
	addr, err := foldAddress("email", r.Address)
	if err != nil {
		return err
	}
	if signIn, enroll := r.Config.OTP(); !signIn && !enroll {
		return ErrNotOffered
	}
	code, err := newCode()
	if err != nil {
		return err
	}
	now := s.Clock.Now()
	c := Code{TenantID: r.TenantID, RealmID: r.RealmID, Address: addr, Hash: s.hash(r.RealmID, addr, code),
		CreateTime: now, ExpireTime: now.Add(CodeTTL)}
	var refused error
	err = s.store.Update(ctx, func(tx Tx) error {
		if refused, err = s.limit(ctx, tx, r, addr, now); err != nil || refused != nil {
			return err // the counts are kept even when refused
		}
		identities, _, err := tx.ListIdentities(ctx, r.RealmID, latchkey.ListOptions{Limit: 2, SkipTotal: true,
			Filter: &filter.Compare{Attr: "traits.primary_email_address", Op: filter.Eq, Value: addr}})
		if err != nil {
			return err
		}
		// An address of several identities proves none of them.
		var to *directory.Identity
		if len(identities) == 1 && identities[0].Active() && identities[0].TenantID == r.TenantID {
			to = &identities[0]
			c.IdentityID = to.ID
		}
		if err := tx.PutEmailCode(ctx, c); err != nil || to == nil {
			return err
		}
		_, err = mail.EnqueueCodeEmail(ctx, tx, now, r.TenantID, r.RealmID, to.Traits.PrimaryEmailAddress, mailRef+to.ID,
			mail.CodeEmail{DisplayName: to.DisplayName, Username: to.Traits.Username, Code: code, ExpireTime: c.ExpireTime})
		return err
	})
	if err != nil {
		return err
	}
	if refused == nil && c.IdentityID != "" && s.MailQueued != nil {
		s.MailQueued()
	}
	return refused
}

// mailRef prefixes the identity id in the Ref of a code's e-mail.
const mailRef = "email_code:"

// limit counts a request against its address's and its IP's limits.
func (s *Service) limit(ctx context.Context, tx Tx, r Request, addr string, now time.Time) (refused, err error) {
	window := cmp.Or(s.LimitWindow, DefaultLimitWindow)
	perAddress, err := tx.CountEmailCodeRequest(ctx, "address:"+r.RealmID+":"+addr, now, window)
	if err != nil {
		return nil, err
	}
	perIP, err := tx.CountEmailCodeRequest(ctx, "ip:"+r.IP, now, window)
	if err != nil {
		return nil, err
	}
	if perAddress > cmp.Or(s.AddressLimit, DefaultAddressLimit) || perIP > cmp.Or(s.IPLimit, DefaultIPLimit) {
		return ErrRateLimited, nil
	}
	return nil, nil
}

// newCode returns a uniformly random code of Digits digits.
func newCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}

// hash is the keyed hash of a code, bound to its realm and address.
func (s *Service) hash(realmID, addr, code string) string {
	return hex.EncodeToString(s.mac([]byte(realmID + "\x00" + addr + "\x00" + code)))
}

// Verification is a code typed for an address, and what it is to do.
type Verification struct {
	TenantID, RealmID string
	// Config is the authenticator config of the application (its ID ""
	// for an inline one): whether a code may sign in or enroll, and the
	// config of the passkey it enrolls.
	Config        passkey.AuthenticatorConfig
	Address, Code string
	// Enroll asks for a binding link for a passkey on this device besides.
	Enroll bool
}

// Result is what a correct code gives: the identity whose address it
// proved, and, when enrolling, the self-service job and its link.
type Result struct {
	Identity directory.Identity
	Job      passkey.BindingJob
	Link     string
}

// Verify checks a code. Every try counts, right or wrong; after MaxTries
// the code is refused even when right. A correct code is spent and proves
// the address of its active identity; with Enroll it also creates the
// self-service binding job in the same transaction. Signing in is the
// caller's (a session, then oauth's policy), when the config lets codes
// sign in: Verify refuses what the config does not allow.
func (s *Service) Verify(ctx context.Context, v Verification) (Result, error) {
	var res Result
	addr, err := foldAddress("email", v.Address)
	if err != nil {
		return res, err
	}
	if len(v.Code) != Digits || !digits(v.Code) {
		return res, latchkey.InvalidField("code", "must be the 6 digits of the e-mail")
	}
	switch signIn, enroll := v.Config.Config.OTP(); {
	case !signIn && !enroll:
		return res, ErrNotOffered
	case v.Enroll && !enroll:
		return res, ErrNoEnroll
	case !v.Enroll && !signIn:
		return res, ErrNoSignIn
	}
	want := s.hash(v.RealmID, addr, v.Code)
	var refused error
	err = s.store.Update(ctx, func(tx Tx) error {
		// Refusals return nil so that the try they counted is kept.
		var c Code
		if c, refused, err = s.try(ctx, tx, v, addr, want); err != nil || refused != nil {
			return err
		}
		if res.Identity, refused, err = spend(ctx, tx, c); err != nil || refused != nil {
			return err
		}
		if v.Enroll {
			res.Job, res.Link, err = s.passkeys.RecoveryJob(ctx, tx, v.TenantID, v.RealmID, res.Identity.ID, v.Config)
		}
		return err
	})
	if err == nil {
		err = refused
	}
	return res, err
}

// try counts a try of the address's code and returns it if it is want.
func (s *Service) try(ctx context.Context, tx Tx, v Verification, addr, want string) (c Code, refused, err error) {
	c, err = tx.GetEmailCode(ctx, v.RealmID, addr)
	switch {
	case errors.Is(err, latchkey.ErrNotFound) || (err == nil && c.TenantID != v.TenantID):
		return c, ErrNoCode, nil
	case err != nil:
		return c, nil, err
	case !s.Clock.Now().Before(c.ExpireTime):
		return c, ErrExpired, nil
	}
	if err := tx.TryEmailCode(ctx, v.RealmID, addr, c.Hash, MaxTries); errors.Is(err, latchkey.ErrNotFound) {
		return c, ErrTooManyTries, nil
	} else if err != nil {
		return c, nil, err
	}
	// A code of an address no identity has matches nothing: no one got it.
	if subtle.ConstantTimeCompare([]byte(want), []byte(c.Hash)) != 1 || c.IdentityID == "" {
		return c, wrong(MaxTries - c.Tries - 1), nil
	}
	return c, nil, nil
}

// spend deletes a right code and returns the identity it proves, if active.
func spend(ctx context.Context, tx Tx, c Code) (i directory.Identity, refused, err error) {
	if err := tx.DeleteEmailCode(ctx, c.RealmID, c.Address, c.Hash); errors.Is(err, latchkey.ErrNotFound) {
		return i, ErrNoCode, nil // spent by a concurrent try
	} else if err != nil {
		return i, nil, err
	}
	i, err = tx.GetIdentity(ctx, c.RealmID, c.IdentityID)
	if errors.Is(err, latchkey.ErrNotFound) || (err == nil && !i.Active()) {
		return i, ErrInactive, nil
	}
	return i, nil, err
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// Sweep deletes expired codes and old request counts.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	now := s.Clock.Now()
	return s.store.DeleteExpiredEmailCodes(ctx, now, now.Add(-cmp.Or(s.LimitWindow, DefaultLimitWindow)))
}
