package passkey

import (
	"context"
	"errors"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/filter"
)

// States of a batch credential binding job.
const (
	BatchRunning        = "RUNNING"
	BatchSuccess        = "SUCCESS"
	BatchPartialSuccess = "PARTIAL_SUCCESS"
	BatchFailed         = "FAILED"
)

// MaxQueued is how many identities a realm's running batches may still
// have to handle; a batch beyond it is refused (429).
const MaxQueued = 1000

// Batch is a batch credential binding job: an EMAIL job for each identity,
// made in the background from one template.
type Batch struct {
	ID              string          `json:"id"`
	TenantID        string          `json:"tenant_id"`
	RealmID         string          `json:"realm_id"`
	IdentityIDs     []string        `json:"identity_ids"`
	State           string          `json:"state"`
	StateCommentary BatchCommentary `json:"state_commentary"`
	JobTemplate     JobTemplate     `json:"job_template"`
	CreateTime      time.Time       `json:"create_time"`
	UpdateTime      time.Time       `json:"update_time"`
	// Done is how many of IdentityIDs, in order, have been handled.
	Done int `json:"-"`
}

// BatchCommentary says why the jobs of some identities were not made.
type BatchCommentary struct {
	Errors map[string]BatchError `json:"errors"`
}

// BatchError is why the job of one identity was not made.
type BatchError struct {
	LastError         string `json:"last_error"`
	FailedPermanently bool   `json:"failed_permanently"`
}

// JobTemplate is what every job of a batch is made from.
type JobTemplate struct {
	AuthenticatorConfigID  string        `json:"authenticator_config_id,omitempty"`
	AuthenticatorConfig    *InlineConfig `json:"authenticator_config,omitempty"`
	PostBindingRedirectURI string        `json:"post_binding_redirect_uri,omitempty"`
	ExpireTime             time.Time     `json:"expire_time"`
}

func (t JobTemplate) request() JobRequest {
	return JobRequest{DeliveryMethod: Email, AuthenticatorConfigID: t.AuthenticatorConfigID,
		AuthenticatorConfig: t.AuthenticatorConfig, PostBindingRedirectURI: t.PostBindingRedirectURI}
}

func batchNotFound(id string) error {
	return latchkey.NotFound("BatchCredentialBindingJob", id, "batch credential binding job not found")
}

// QueueFull is the refusal of a batch that would put more than MaxQueued
// identities in the realm's queue; Remaining is the room left.
type QueueFull struct{ Remaining int }

func (e *QueueFull) Error() string {
	return "too many credential binding jobs are queued in this realm"
}

// CreateBatch queues a batch credential binding job. The jobs are made in
// the background (ProcessBatches); each is an EMAIL job.
func (s *Service) CreateBatch(ctx context.Context, tenantID, realmID string, identityIDs []string, tmpl JobTemplate) (Batch, error) {
	if err := directory.CheckIDs("identity_ids", identityIDs); err != nil {
		return Batch{}, err
	}
	req := tmpl.request()
	if err := latchkey.WithFieldPrefix(validateJobRequest(req), "job_template."); err != nil {
		return Batch{}, err
	}
	t := s.Clock.Now()
	tmpl.ExpireTime = t.Add(s.linkTTL())
	b := Batch{ID: latchkey.NewID(), TenantID: tenantID, RealmID: realmID, IdentityIDs: identityIDs,
		State: BatchRunning, StateCommentary: BatchCommentary{Errors: map[string]BatchError{}},
		JobTemplate: tmpl, CreateTime: t, UpdateTime: t}
	err := s.store.Update(ctx, func(tx Tx) error {
		if _, err := directory.LookupRealm(ctx, tx, tenantID, realmID); err != nil {
			return err
		}
		// Checked now: the jobs are made later, by no one's token.
		if err := mayBind(ctx, tx, identityIDs); err != nil {
			return err
		}
		if tmpl.AuthenticatorConfigID != "" {
			// Referenced, as a job references it: the running batch counts as
			// the config's use (AuthenticatorConfigInUse) once this commits.
			a, err := tx.ReferenceAuthenticatorConfig(ctx, realmID, tmpl.AuthenticatorConfigID)
			if _, err := configInTenant(a, err, tenantID, tmpl.AuthenticatorConfigID); err != nil {
				return err
			}
		}
		queued, err := tx.QueuedBatchIdentities(ctx, realmID)
		if err != nil {
			return err
		}
		if queued+len(identityIDs) > MaxQueued {
			return &QueueFull{Remaining: max(0, MaxQueued-queued)}
		}
		if err := tx.CreateBatch(ctx, b); err != nil {
			return err
		}
		return s.record(ctx, tx, tenantID, realmID, "batch_credential_binding_job.create", "BatchCredentialBindingJob", b.ID)
	})
	return b, err
}

// GetBatch returns a batch of the realm.
func (s *Service) GetBatch(ctx context.Context, tenantID, realmID, id string) (Batch, error) {
	b, err := s.store.GetBatch(ctx, realmID, id)
	if err == nil && b.TenantID != tenantID {
		err = latchkey.ErrNotFound
	}
	if errors.Is(err, latchkey.ErrNotFound) {
		return b, batchNotFound(id)
	}
	return b, err
}

// BatchResults is a page of the jobs a batch made, with its counts.
type BatchResults struct {
	Jobs                      []BindingJob
	Total                     int // jobs made
	Success, Failure, Pending int
}

// ListBatchResults returns a page of the jobs a batch made.
func (s *Service) ListBatchResults(ctx context.Context, tenantID, realmID, id string, opts latchkey.ListOptions) (BatchResults, error) {
	b, err := s.GetBatch(ctx, tenantID, realmID, id)
	if err != nil {
		return BatchResults{}, err
	}
	opts.Filter = andBatch(opts.Filter, b.ID)
	jobs, total, err := s.ListBindingJobs(ctx, tenantID, realmID, AnyIdentity, opts)
	failed := len(b.StateCommentary.Errors)
	return BatchResults{Jobs: jobs, Total: total, Success: b.Done - failed, Failure: failed,
		Pending: len(b.IdentityIDs) - b.Done}, err
}

// batchLease is how long a node holds a batch before another may take it
// over; every job made renews it.
const batchLease = time.Minute

// ProcessBatches makes the jobs of running batches until none is left that
// no other node holds, and returns how many batches it finished. owner
// names this node.
func (s *Service) ProcessBatches(ctx context.Context, owner string) (int, error) {
	finished := 0
	for {
		b, err := s.store.ClaimBatch(ctx, owner, s.Clock.Now(), batchLease)
		if errors.Is(err, latchkey.ErrNotFound) {
			return finished, nil
		}
		if err != nil {
			return finished, err
		}
		if err := s.processBatch(ctx, owner, b); err != nil {
			return finished, err
		}
		finished++
	}
}

// processBatch makes the remaining jobs of a claimed batch, each in one
// transaction with the batch's progress, so that a batch taken over after
// a crash makes no job twice.
func (s *Service) processBatch(ctx context.Context, owner string, b Batch) error {
	req := b.JobTemplate.request()
	for b.Done < len(b.IdentityIDs) {
		id := b.IdentityIDs[b.Done]
		err := s.store.Update(ctx, func(tx Tx) error {
			_, _, err := s.createJob(ctx, tx, b.TenantID, b.RealmID, id, req, b.ID, 0)
			if err != nil {
				var e *latchkey.Error
				if !errors.As(err, &e) {
					return err
				}
				return errJobRefused{e}
			}
			b.Done++
			b.finish(s.Clock.Now())
			return tx.SaveBatch(ctx, b, owner, s.Clock.Now().Add(batchLease))
		})
		var refused errJobRefused
		switch {
		case errors.As(err, &refused):
			// The job's changes are rolled back; record why, on its own.
			b.StateCommentary.Errors[id] = BatchError{LastError: refused.e.Message, FailedPermanently: true}
			b.Done++
			b.finish(s.Clock.Now())
			err = s.store.Update(ctx, func(tx Tx) error { return tx.SaveBatch(ctx, b, owner, s.Clock.Now().Add(batchLease)) })
		}
		if err != nil {
			return err
		}
	}
	if s.MailQueued != nil {
		s.MailQueued()
	}
	return nil
}

// errJobRefused carries the API error for which one job was not made.
type errJobRefused struct{ e *latchkey.Error }

func (e errJobRefused) Error() string { return e.e.Error() }

// finish dates the progress at now and sets the final state once every
// identity was handled.
func (b *Batch) finish(now time.Time) {
	b.UpdateTime = now
	if b.Done < len(b.IdentityIDs) {
		return
	}
	switch failed := len(b.StateCommentary.Errors); {
	case failed == 0:
		b.State = BatchSuccess
	case failed == len(b.IdentityIDs):
		b.State = BatchFailed
	default:
		b.State = BatchPartialSuccess
	}
}

// andBatch narrows a filter to the jobs of one batch.
func andBatch(f filter.Expr, batchID string) filter.Expr {
	of := &filter.Compare{Attr: "batch_id", Op: filter.Eq, Value: batchID}
	if f == nil {
		return of
	}
	return &filter.And{Left: of, Right: f}
}
