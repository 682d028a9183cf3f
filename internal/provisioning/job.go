package provisioning

import (
	"context"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
)

// Limits of one import file.
const (
	MaxFileSize = 100 << 20 // bytes
	MaxRows     = 1_000_000 // data rows, the header not counted
)

// States of an import job.
const (
	Queued    = "QUEUED"
	Running   = "RUNNING"
	Succeeded = "SUCCEEDED" // every row was processed; some may have failed
	Failed    = "FAILED"    // the job itself failed (see Error); rows after RowsDone were not processed
)

// Options are what an import does besides creating new identities.
type Options struct {
	// DryRun validates every row and reports what would happen, changing nothing.
	DryRun bool `json:"dry_run"`
	// UpdateExisting updates identities whose username a row names; without
	// it such a row fails unless it would change nothing.
	UpdateExisting bool `json:"update_existing"`
	// CreateGroups creates the groups that rows name and the realm lacks;
	// without it such rows fail.
	CreateGroups bool `json:"create_groups"`
	// SendBindingEmail, when set, is the authenticator config with which
	// every new identity gets a credential binding e-mail.
	SendBindingEmail string `json:"send_binding_email,omitempty"`
}

// Scopes are the scopes a caller must hold to start an import with these
// options: it creates and updates identities and their memberships, and
// with CreateGroups creates groups too.
func (o Options) Scopes() []string {
	s := []string{"identities:create", "identities:update", "groups:update"}
	if o.CreateGroups {
		s = append(s, "groups:create")
	}
	return s
}

// Job is one import of a CSV file into a realm.
type Job struct {
	ID       string `json:"id"`
	TenantID string `json:"tenant_id"`
	RealmID  string `json:"realm_id"`
	State    string `json:"state"`
	Options
	// Action, when set, makes the job a bulk action (bulk.go) on the
	// identities whose ids its file lists; GroupID is add_to_group's group.
	Action  string `json:"action,omitempty"`
	GroupID string `json:"group_id,omitempty"`
	// Columns are the file's header, as it spells the names.
	Columns []string `json:"columns"`
	// RowsTotal is the number of data rows in the file; RowsDone how many
	// of them were processed so far (the progress).
	RowsTotal int `json:"rows_total"`
	RowsDone  int `json:"rows_done"`
	// Per-row results so far. In a dry run they say what would happen.
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Failed    int `json:"failed"`
	// EmailsSent counts the binding e-mails sent to new identities.
	EmailsSent int `json:"binding_emails_sent"`
	// Error says why a job in state FAILED failed.
	Error string `json:"error,omitempty"`
	// Who created the job; the changes it makes are recorded as theirs.
	ActorType  string    `json:"-"`
	ActorID    string    `json:"-"`
	CreateTime time.Time `json:"create_time"`
	UpdateTime time.Time `json:"update_time"`
}

// Done reports whether the job has finished.
func (j Job) Done() bool { return j.State == Succeeded || j.State == Failed }

// Failure is a row that failed: its line, the record as a CSV line (without
// newline) and the reason.
type Failure struct {
	Line   int
	Record []byte
	Error  string
}

// Problem is one error that failed rows share: how many rows and the
// first of their lines.
type Problem struct {
	Error     string
	Rows      int
	FirstLine int
}

// Hints end a row's error that an option would have avoided. They name the
// API's options; the console, whose checkboxes they are, replaces them.
const (
	HintCreateGroups   = "; create_groups creates it"
	HintUpdateExisting = "; update_existing updates it"
)

// Tx is what an import needs inside one transaction.
type Tx interface {
	directory.Tx
	// IdentitiesByUsername returns the identities of the realm whose folded
	// usernames are among keys.
	IdentitiesByUsername(ctx context.Context, realmID string, keys []string) ([]directory.Identity, error)
	// AddImportChunk stores chunk seq (0, 1, …) of the file of job jobID,
	// which CreateImportJob then stores in the same transaction: a file's
	// rows are counted as it is stored.
	AddImportChunk(ctx context.Context, jobID string, seq int, content []byte) error
	// CreateImportJob stores a new job, whose file's chunks are stored. It
	// returns latchkey.ErrDuplicate when the realm has a job that is not
	// done, and latchkey.ErrNoParent when the realm is gone.
	CreateImportJob(ctx context.Context, j Job) error
	// GetImportJob returns latchkey.ErrNotFound for a job not in the realm.
	GetImportJob(ctx context.Context, tenantID, realmID, id string) (Job, error)
	// SaveImportJob stores j's state, progress, counts and error while owner
	// holds its lease and the stored job has from rows done (the progress j
	// continues), extending the lease to leaseUntil; a done job's file is
	// dropped. It returns latchkey.ErrNotFound when owner lost the lease or
	// the stored progress is another.
	SaveImportJob(ctx context.Context, j Job, from int, owner string, leaseUntil time.Time) error
	// AddImportFailures records failed rows of a job; lines are unique per job.
	AddImportFailures(ctx context.Context, jobID string, fs []Failure) error
	// ListImportFailures returns up to limit failures of a job after the
	// line afterLine, by line.
	ListImportFailures(ctx context.Context, jobID string, afterLine, limit int) ([]Failure, error)
	// ListImportProblems returns up to limit distinct errors of a job's
	// failed rows, the most frequent first (then by first line).
	ListImportProblems(ctx context.Context, jobID string, limit int) ([]Problem, error)
}

// Store is the storage of imports. Claims are safe with several nodes on
// one database: a job is leased to one owner at a time.
type Store interface {
	Tx
	// Update runs fn in one read-write transaction, committed when fn returns nil.
	Update(ctx context.Context, fn func(Tx) error) error
	// ClaimImportJob leases to owner, until now+lease, the oldest job that is
	// queued or running under an expired lease, and marks it running. It
	// returns latchkey.ErrNotFound when there is none.
	ClaimImportJob(ctx context.Context, owner string, now time.Time, lease time.Duration) (Job, error)
	// ImportChunk returns chunk seq of the file of a job that is not done,
	// or latchkey.ErrNotFound after the last.
	ImportChunk(ctx context.Context, jobID string, seq int) ([]byte, error)
	// Settle brings the engine's planner statistics up to date after a
	// bulk change, where the engine keeps them (PostgreSQL would otherwise
	// plan the next queries for the table as it was).
	Settle(ctx context.Context) error
}

// BindingMailer sends a credential binding e-mail to an identity (the
// passkey domain's binding jobs, wired in by the node).
type BindingMailer interface {
	// CheckBindingConfig reports whether the realm has the authenticator config.
	CheckBindingConfig(ctx context.Context, tenantID, realmID, authenticatorConfigID string) error
	SendBindingEmail(ctx context.Context, tenantID, realmID, identityID, authenticatorConfigID string) error
}

func jobNotFound(id string) error { return latchkey.NotFound("ImportJob", id, "import job not found") }
