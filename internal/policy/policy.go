package policy

import (
	"context"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/directory"
)

// Effects of a rule.
const (
	Allow = "allow"
	Deny  = "deny"
)

// AnyApplication in a rule's applications matches every application.
const AnyApplication = "*"

// MaxRules bounds the rules of one realm.
const MaxRules = 1000

// Rule allows or denies the identities it names, directly or by group, the
// use of the applications it names. A rule that names no identity and no
// group applies to every identity.
type Rule struct {
	Effect       string   `json:"effect"`
	Applications []string `json:"applications"`
	Groups       []string `json:"groups"`
	Identities   []string `json:"identities"`
	Description  string   `json:"description,omitempty"`
}

// Policy is a realm's rules, in order: the first rule that matches decides;
// DefaultEffect decides when none does.
type Policy struct {
	TenantID      string    `json:"tenant_id"`
	RealmID       string    `json:"realm_id"`
	Rules         []Rule    `json:"rules"`
	DefaultEffect string    `json:"default_effect"`
	UpdateTime    time.Time `json:"update_time"`
}

// Decision is the outcome of an evaluation and what made it.
type Decision struct {
	Allowed bool   `json:"allowed"`
	Effect  string `json:"decision"`
	// RuleIndex is the 0-based index of the deciding rule; nil when the
	// default (or the identity's status) decided.
	RuleIndex *int   `json:"rule_index"`
	Rule      *Rule  `json:"rule,omitempty"`
	Reason    string `json:"reason"`
}

// Tx is what policy reads and writes in one transaction.
type Tx interface {
	// GetPolicy returns latchkey.ErrNotFound for a realm that never had one.
	GetPolicy(ctx context.Context, realmID string) (Policy, error)
	PutPolicy(ctx context.Context, p Policy) error

	GetRealm(ctx context.Context, tenantID, id string) (directory.Realm, error)
	GetIdentity(ctx context.Context, realmID, id string) (directory.Identity, error)
	MissingIdentities(ctx context.Context, realmID string, ids []string) ([]string, error)
	GetGroup(ctx context.Context, realmID, id string) (directory.Group, error)
	GroupsOfIdentities(ctx context.Context, identityIDs []string) (map[string][]directory.Group, error)
	// ApplicationExists returns latchkey.ErrNotFound when the realm has no such application.
	ApplicationExists(ctx context.Context, realmID, id string) error
	RecordEvent(ctx context.Context, e audit.Event) error
}

// Store is policy storage; Update runs fn in one read-write transaction.
type Store interface {
	Tx
	Update(ctx context.Context, fn func(Tx) error) error
}
