package provisioning

import (
	"bytes"
	"context"
	"slices"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/directory"
)

// Bulk actions: what a job with an Action does to each identity its file
// names. Such a job is an import job in every other way (one at a time per
// realm, leased, resumable, with progress and failed rows), so that one
// mechanism runs both; its file is a CSV of one column, "id".
const (
	ActionSuspend          = "suspend"
	ActionActivate         = "activate"
	ActionDelete           = "delete"
	ActionAddToGroup       = "add_to_group"
	ActionSendBindingEmail = "send_binding_email"
)

// BulkAction is an action and what it needs: the group of add_to_group,
// the authenticator config of send_binding_email.
type BulkAction struct {
	Action   string
	GroupID  string
	ConfigID string
}

// Scopes are those a caller must hold to start the action, as for the
// request that does it to one identity.
func (a BulkAction) Scopes() []string {
	switch a.Action {
	case ActionDelete:
		return []string{"identities:delete"}
	case ActionAddToGroup:
		return []string{"groups:update"}
	case ActionSendBindingEmail:
		return []string{"credential-binding-jobs:create"}
	}
	return []string{"identities:update"}
}

// bulkBatch is how many identities one transaction of a bulk job changes.
const bulkBatch = 2000

var errNoIdentities = latchkey.InvalidField("identity_ids", "no identity is selected")

// CreateBulkJob queues action on the identities ids of a realm. The
// action's group or authenticator config must exist, and the caller must
// be allowed to fill the group; ids that are no identities of the realm
// (deleted meanwhile) fail as rows of the job.
func (s *Service) CreateBulkJob(ctx context.Context, tenantID, realmID string, a BulkAction, ids []string) (Job, error) {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	switch {
	case len(ids) == 0:
		return Job{}, errNoIdentities
	case len(ids) > MaxRows:
		return Job{}, latchkey.InvalidField("identity_ids", "more than 1,000,000 identities")
	}
	if _, err := directory.LookupRealm(ctx, s.store, tenantID, realmID); err != nil {
		return Job{}, err
	}
	switch a.Action {
	case ActionSuspend, ActionActivate, ActionDelete:
	case ActionAddToGroup:
		if _, err := s.store.GetGroup(ctx, realmID, a.GroupID); err != nil {
			return Job{}, latchkey.IfNotFound(err, directory.GroupNotFound, a.GroupID)
		}
		if err := openGroup(ctx, s.store, a.GroupID); err != nil {
			return Job{}, err
		}
	case ActionSendBindingEmail:
		if s.Mailer == nil {
			return Job{}, errNoMailer
		}
		if err := s.Mailer.CheckBindingConfig(ctx, tenantID, realmID, a.ConfigID); err != nil {
			return Job{}, err
		}
	default:
		return Job{}, latchkey.InvalidField("action", "must be one of suspend, activate, delete, add_to_group, send_binding_email")
	}
	at, actor := s.Clock.Now(), latchkey.ActorFrom(ctx)
	j := Job{ID: latchkey.NewID(), TenantID: tenantID, RealmID: realmID, State: Queued, Action: a.Action, GroupID: a.GroupID,
		Options: Options{SendBindingEmail: a.ConfigID}, Columns: []string{"id"}, RowsTotal: len(ids),
		ActorType: actor.Type, ActorID: actor.ID, CreateTime: at, UpdateTime: at}
	err := s.store.Update(ctx, func(tx Tx) error {
		var file bytes.Buffer
		file.WriteString("id\n")
		seq := 0
		for k, id := range ids {
			file.WriteString(id)
			file.WriteByte('\n')
			if file.Len() >= chunkSize-64 || k == len(ids)-1 {
				if err := tx.AddImportChunk(ctx, j.ID, seq, file.Bytes()); err != nil {
					return err
				}
				file.Reset()
				seq++
			}
		}
		return createJob(ctx, tx, j, at)
	})
	return s.started(j, err)
}

// bulkRun runs one claimed bulk job.
type bulkRun struct {
	w   *Worker
	job Job
}

func (b *bulkRun) run(ctx context.Context) error {
	file := chunks{store: b.w.Service.store, jobID: b.job.ID, line: 1}
	if _, _, err := file.next(ctx); err != nil { // the header
		return err
	}
	for range b.job.RowsDone {
		if _, _, err := file.next(ctx); err != nil {
			return err
		}
	}
	for {
		var lines []int
		var ids []string
		for len(ids) < bulkBatch {
			rec, ok, err := file.next(ctx)
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			if len(rec.fields) > 0 {
				lines, ids = append(lines, rec.line), append(ids, rec.fields[0])
			}
		}
		if len(ids) == 0 {
			break
		}
		var sent []string
		err := b.w.Service.store.Update(ctx, func(tx Tx) (err error) {
			job := b.job
			sent, err = b.apply(ctx, tx, &job, lines, ids)
			if err != nil {
				return err
			}
			if err := b.w.save(ctx, tx, job, b.job.RowsDone, "import_job.apply_batch"); err != nil {
				return err
			}
			b.job = job
			return nil
		})
		if err != nil {
			return err
		}
		b.sendEmails(ctx, sent)
	}
	b.job.State = Succeeded
	return b.w.finish(ctx, b.job, "import_job.complete")
}

// apply does the job's action to one batch of identities in tx and
// counts the results in j: Updated for an identity changed, Unchanged for
// one that already was as the action leaves it, Failed for an id that is
// no identity of the realm. For send_binding_email it returns the
// identities to send to once the batch committed.
func (b *bulkRun) apply(ctx context.Context, tx Tx, j *Job, lines []int, ids []string) ([]string, error) {
	found, err := tx.IdentitiesByID(ctx, j.RealmID, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]directory.Identity, len(found))
	for _, i := range found {
		byID[i.ID] = i
	}
	at := b.w.Service.Clock.Now()
	var failures []Failure
	fail := func(k int, why string) {
		j.Failed++
		failures = append(failures, Failure{Line: lines[k], Record: encodeRecord([]string{ids[k]}), Error: why})
	}
	event := func(action, resourceType, id string) audit.Event {
		return audit.NewAt(ctx, at, j.TenantID, j.RealmID, action, resourceType, id)
	}
	var events []audit.Event
	var sendTo []string
	var changes directory.Changes
	var deletes []string
	var members []string
	var already map[string]bool
	if j.Action == ActionAddToGroup {
		if already, err = b.membersAmong(ctx, tx, j.GroupID, ids); err != nil {
			return nil, err
		}
	}
	for k, id := range ids {
		old, ok := byID[id]
		if !ok {
			fail(k, "no such identity in the realm: it may have been deleted meanwhile")
			continue
		}
		switch j.Action {
		case ActionSuspend, ActionActivate:
			status := directory.StatusSuspended
			if j.Action == ActionActivate {
				status = directory.StatusActive
			}
			if old.Status == status {
				j.Unchanged++
				continue
			}
			edited := old
			edited.Status = status
			i, err := directory.EditIdentity(old, edited, at)
			if err != nil {
				fail(k, err.Error())
				continue
			}
			changes.Updates = append(changes.Updates, directory.Update{Old: old, New: i})
			e := event("identity.update", "Identity", id)
			e.ResourceDisplayName, e.Changes = i.DisplayName, audit.ChangesOf(old, i)
			events = append(events, e)
		case ActionDelete:
			deletes = append(deletes, id)
			e := event("identity.delete", "Identity", id)
			e.ResourceDisplayName = old.DisplayName
			events = append(events, e)
		case ActionAddToGroup:
			if already[id] {
				j.Unchanged++
				continue
			}
			members = append(members, id)
		case ActionSendBindingEmail:
			if old.Traits.PrimaryEmailAddress == "" {
				fail(k, "the identity has no e-mail address")
				continue
			}
			sendTo = append(sendTo, id)
			continue // counted as sent, or failed, once sent
		}
		j.Updated++
	}
	if len(members) > 0 {
		if err := openGroup(ctx, tx, j.GroupID); err != nil {
			return nil, err
		}
		changes.Members = map[string][]string{j.GroupID: members}
		events = append(events, event("group.add_members", "Group", j.GroupID))
	}
	if err := directory.StoreChanges(ctx, tx, changes); err != nil {
		return nil, err
	}
	if len(deletes) > 0 {
		if _, err := directory.DeleteIdentities(ctx, tx, j.RealmID, deletes, at); err != nil {
			return nil, err
		}
	}
	if err := tx.RecordEvents(ctx, events); err != nil {
		return nil, err
	}
	if err := tx.AddImportFailures(ctx, j.ID, failures); err != nil {
		return nil, err
	}
	j.RowsDone += len(ids)
	return sendTo, nil
}

// openGroup refuses a group whose roles give management scopes: a job
// runs after its request, without its token's scopes, so it cannot show
// that it may give them (directory.MayAddMembers); such members are added
// from the group's page, one request at a time.
func openGroup(ctx context.Context, tx directory.Tx, groupID string) error {
	scopes, err := tx.ManagementScopesOf(ctx, nil, []string{groupID})
	if err != nil {
		return err
	}
	if len(scopes) > 0 {
		return latchkey.Errorf(latchkey.CodeUnprocessable, "the group gives management scopes through its roles: add its members from the group's page")
	}
	return nil
}

// membersAmong returns which of ids are members of the group already. A
// group deleted since the job began fails the job.
func (b *bulkRun) membersAmong(ctx context.Context, tx Tx, groupID string, ids []string) (map[string]bool, error) {
	if _, err := tx.GetGroup(ctx, b.job.RealmID, groupID); err != nil {
		return nil, latchkey.IfNotFound(err, directory.GroupNotFound, groupID)
	}
	in, err := tx.MembersAmong(ctx, groupID, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(in))
	for _, id := range in {
		out[id] = true
	}
	return out, nil
}

// sendEmails sends binding e-mails after their batch committed; one that
// fails is counted as failed and logged.
func (b *bulkRun) sendEmails(ctx context.Context, ids []string) {
	if len(ids) == 0 {
		return
	}
	sent, failed := 0, 0
	for _, id := range ids {
		if err := b.w.Service.Mailer.SendBindingEmail(ctx, b.job.TenantID, b.job.RealmID, id, b.job.SendBindingEmail); err != nil {
			b.w.Logger.Warn("binding e-mail of a bulk job", "import_job", b.job.ID, "identity_id", id, "err", err)
			failed++
			continue
		}
		sent++
	}
	b.job.EmailsSent += sent
	b.job.Updated += sent
	b.job.Failed += failed
}
