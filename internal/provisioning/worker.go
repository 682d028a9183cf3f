package provisioning

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/background"
	"github.com/latchkey/latchkey/internal/directory"
)

// Worker runs import jobs: it claims one, applies it batch by batch, and
// claims the next. Workers on several nodes share the jobs; a job's lease,
// renewed with every batch, keeps two of them from running it at once, and
// a job whose node died is taken over when its lease runs out, resuming
// after the last committed batch.
type Worker struct {
	Service *Service
	Logger  *slog.Logger
	// Owner names this worker in leases; it must differ between nodes.
	Owner string
	// PollInterval is how often jobs are looked for without Wake (default 2 s).
	PollInterval time.Duration
	// Lease is how long a job stays claimed without a committed batch
	// (default 1 min).
	Lease time.Duration

	loop background.Loop
}

// batchSize is how many rows one transaction applies: all of them or none.
// Fewer, larger commits write the pages that every batch changes less
// often (on SQLite an import of 300,000 rows took 34 µs per row with
// batches of 2,000, 28 with 5,000); SQLite's other writers wait for a
// batch, about 150 ms.
const batchSize = 5000

// Wake makes Run look for jobs now. It never blocks.
func (w *Worker) Wake() {
	w.loop.Wake()
}

func (w *Worker) lease() time.Duration {
	if w.Lease > 0 {
		return w.Lease
	}
	return time.Minute
}

// Run runs jobs until ctx is done.
func (w *Worker) Run(ctx context.Context) {
	poll := w.PollInterval
	if poll <= 0 {
		poll = 2 * time.Second
	}
	w.loop.Name = "import"
	w.loop.Run(ctx, poll, w.runNext)
}

// runNext claims and runs one job; it reports whether there was one.
func (w *Worker) runNext(ctx context.Context) bool {
	j, err := w.Service.store.ClaimImportJob(ctx, w.Owner, w.Service.Clock.Now(), w.lease())
	if err != nil {
		if !errors.Is(err, latchkey.ErrNotFound) && ctx.Err() == nil {
			w.Logger.Warn("claim import job", "err", err)
		}
		return false
	}
	log := w.Logger.With("import_job", j.ID, "realm_id", j.RealmID)
	log.Info("import job started", "rows_done", j.RowsDone, "rows_total", j.RowsTotal)
	err = w.run(ctx, j)
	switch {
	case ctx.Err() != nil:
		// Shutting down: the lease runs out and the job resumes where it stopped.
	case errors.Is(err, errLeaseLost):
		log.Warn("import job lease lost; another node continues it")
	case err != nil:
		log.Error("import job failed", "err", err)
	default:
		log.Info("import job done")
	}
	return ctx.Err() == nil
}

var errLeaseLost = errors.New("import job lease lost")

// run applies a claimed job to its end. A failure of the job itself (not
// of a row) marks it failed.
func (w *Worker) run(ctx context.Context, j Job) error {
	// The job's changes are its creator's.
	ctx = latchkey.WithActor(ctx, latchkey.Actor{Type: j.ActorType, ID: j.ActorID, TenantID: j.TenantID})
	var err error
	var progress func() Job
	if j.Action != "" {
		b := &bulkRun{w: w, job: j}
		err, progress = b.run(ctx), func() Job { return b.job }
	} else {
		im := &importer{w: w, job: j, seen: map[uint64]int32{}}
		err, progress = im.run(ctx), func() Job { return im.job }
	}
	if err == nil || errors.Is(err, errLeaseLost) || ctx.Err() != nil {
		return err
	}
	failed := progress()
	failed.State, failed.Error = Failed, "internal error; the rows not yet processed can be imported again"
	if failed.Action != "" {
		failed.Error = "internal error; the identities not yet processed can be selected again"
		if e := (*latchkey.Error)(nil); errors.As(err, &e) {
			failed.Error = e.Message // a group deleted or given roles meanwhile
		}
	}
	if saveErr := w.finish(ctx, failed, "import_job.fail"); saveErr != nil {
		return errors.Join(err, saveErr)
	}
	return err
}

// finish saves the job's last state with its event in one transaction:
// whoever sees the job done sees its event too.
func (w *Worker) finish(ctx context.Context, j Job, action string) error {
	return w.Service.store.Update(ctx, func(tx Tx) error { return w.save(ctx, tx, j, action) })
}

// save stores the job's progress under the lease, with an audit event.
func (w *Worker) save(ctx context.Context, tx Tx, j Job, action string) error {
	t := w.Service.Clock.Now()
	j.UpdateTime = t
	if err := tx.SaveImportJob(ctx, j, w.Owner, t.Add(w.lease())); err != nil {
		if errors.Is(err, latchkey.ErrNotFound) {
			return errLeaseLost
		}
		return err
	}
	return tx.RecordEvent(ctx, audit.NewAt(ctx, t, j.TenantID, j.RealmID, action, "ImportJob", j.ID))
}

// importer applies one job's file.
type importer struct {
	w      *Worker
	job    Job
	h      header
	file   chunks
	seen   map[uint64]int32           // hashes of the folded usernames read, to the line of their first row
	groups map[string]directory.Group // the realm's groups by folded name, with those a dry run would create
	// closed holds, by group id, why a row cannot join the group ("" when it can).
	closed map[string]string
	ids    latchkey.IDs // of the new identities, which then lie together in the indexes of ids
}

// chunks reads the records of a job's file one stored chunk at a time.
type chunks struct {
	store Store
	jobID string
	seq   int     // of the next chunk
	line  int     // the line the next chunk starts on
	rd    *reader // of the current chunk; nil before the first
}

// next returns the next record, or false at the end of the file.
func (c *chunks) next(ctx context.Context) (record, bool, error) {
	for {
		if c.rd != nil {
			if rec, ok := c.rd.next(); ok {
				return rec, true, nil
			}
		}
		chunk, err := c.store.ImportChunk(ctx, c.jobID, c.seq)
		if errors.Is(err, latchkey.ErrNotFound) {
			return record{}, false, nil
		}
		if err != nil {
			return record{}, false, err
		}
		c.rd = newReader(chunk, c.line)
		c.seq++
		c.line += bytes.Count(chunk, []byte{'\n'})
	}
}

func (im *importer) run(ctx context.Context) error {
	im.file = chunks{store: im.w.Service.store, jobID: im.job.ID, line: 1}
	first, _, err := im.file.next(ctx)
	if err != nil {
		return err
	}
	if im.h, err = parseHeader(first); err != nil {
		return err // checked when the job was created
	}
	if err := im.loadGroups(ctx); err != nil {
		return err
	}
	// Rows processed before a restart are only remembered as usernames seen.
	for range im.job.RowsDone {
		_, ok, err := im.read(ctx)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
	}
	for {
		batch := make([]row, 0, batchSize)
		for len(batch) < batchSize {
			r, ok, err := im.read(ctx)
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			batch = append(batch, r)
		}
		if len(batch) == 0 {
			break
		}
		if err := im.applyBatch(ctx, batch); err != nil {
			return err
		}
	}
	im.job.State = Succeeded
	if err := im.w.finish(ctx, im.job, "import_job.complete"); err != nil {
		return err
	}
	if im.job.DryRun || im.job.Created+im.job.Updated < settleFrom {
		return nil
	}
	// Before statistics, PostgreSQL once read a page of a fresh million
	// identities by sorting them all: 0.4 s a page, not 4 ms.
	if err := im.w.Service.store.Settle(ctx); err != nil {
		im.w.Logger.Warn("update planner statistics after an import", "import_job", im.job.ID, "err", err)
	}
	return nil
}

// settleFrom is how many identities an import must write for the store to
// settle after it (autovacuum would, within a minute or so).
const settleFrom = 10_000

// read reads the next row and checks that its username did not come before.
func (im *importer) read(ctx context.Context) (row, bool, error) {
	rec, ok, err := im.file.next(ctx)
	if !ok {
		return row{}, false, err
	}
	r := im.h.parseRow(rec)
	if r.key == "" {
		return r, true, nil
	}
	h := fnv.New64a()
	h.Write([]byte(r.key))
	sum := h.Sum64()
	if first, dup := im.seen[sum]; dup {
		if r.err == "" {
			r.err = fmt.Sprintf("%s: repeats the username of line %d", im.h.column("traits.username"), first)
		}
	} else {
		im.seen[sum] = int32(r.line)
	}
	return r, true, nil
}

func (im *importer) loadGroups(ctx context.Context) error {
	im.groups = map[string]directory.Group{}
	opts := latchkey.ListOptions{Limit: 1000, SkipTotal: true}
	for {
		gs, _, err := im.w.Service.store.ListGroups(ctx, im.job.RealmID, opts)
		if err != nil {
			return err
		}
		for _, g := range gs {
			im.groups[directory.Fold(g.DisplayName)] = g
		}
		if len(gs) < opts.Limit {
			return nil
		}
		opts.After = gs[len(gs)-1].ID
	}
}

// applyBatch applies rows in one transaction, with the job's progress.
// When a username or group name was taken concurrently, it looks again.
func (im *importer) applyBatch(ctx context.Context, batch []row) error {
	for attempt := 1; ; attempt++ {
		var out batchResult
		err := im.w.Service.store.Update(ctx, func(tx Tx) (err error) {
			out, err = im.apply(ctx, tx, batch)
			return err
		})
		if errors.Is(err, latchkey.ErrDuplicate) && attempt < 3 {
			if err := im.loadGroups(ctx); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		im.job = out.job
		for k, g := range out.newGroups {
			im.groups[k] = g
		}
		im.sendEmails(ctx, out.created)
		return nil
	}
}

type batchResult struct {
	job       Job
	newGroups map[string]directory.Group
	created   []string
}

// plan is what apply decides for the rows of one batch.
type plan struct {
	job       Job
	at        time.Time
	existing  map[string]directory.Identity // by folded username
	memberOf  map[string][]directory.Group  // groups of the existing identities, when the file has groups
	newGroups map[string]directory.Group    // by folded name
	changes   directory.Changes
	failures  []Failure
}

// apply decides every row of a batch with the directory's rules and,
// unless in a dry run, stores the changes: new groups, new identities,
// updates, memberships. Failures and progress are written in any case.
func (im *importer) apply(ctx context.Context, tx Tx, rows []row) (batchResult, error) {
	p, err := im.begin(ctx, tx, rows)
	if err != nil {
		return batchResult{}, err
	}
	for _, r := range rows {
		problem, err := im.decide(ctx, tx, p, r)
		if err != nil {
			return batchResult{}, err
		}
		if problem != "" {
			p.job.Failed++
			p.failures = append(p.failures, im.failure(r, problem))
		}
	}
	out := batchResult{newGroups: p.newGroups}
	if !im.job.DryRun {
		if err := directory.StoreChanges(ctx, tx, p.changes); err != nil {
			return out, err
		}
		for _, i := range p.changes.Creates {
			out.created = append(out.created, i.ID)
		}
	}
	if err := tx.AddImportFailures(ctx, p.job.ID, p.failures); err != nil {
		return out, err
	}
	p.job.RowsDone += len(rows)
	if err := im.w.save(ctx, tx, p.job, "import_job.apply_batch"); err != nil {
		return out, err
	}
	out.job = p.job
	return out, nil
}

// begin reads the identities that rows name, with their groups when the
// file has groups.
func (im *importer) begin(ctx context.Context, tx Tx, rows []row) (*plan, error) {
	p := &plan{job: im.job, at: im.w.Service.Clock.Now(), existing: map[string]directory.Identity{},
		newGroups: map[string]directory.Group{}, changes: directory.Changes{Members: map[string][]string{}}}
	keys := make([]string, 0, len(rows))
	for _, r := range rows {
		if r.err == "" {
			keys = append(keys, r.key)
		}
	}
	found, err := tx.IdentitiesByUsername(ctx, im.job.RealmID, keys)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(found))
	for _, v := range found {
		p.existing[directory.Fold(v.Traits.Username)] = v
		ids = append(ids, v.ID)
	}
	if len(ids) > 0 && im.h.has[colGroups] {
		if p.memberOf, err = tx.GroupsOfIdentities(ctx, ids); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// decide adds what a row changes to the batch, or says why it cannot.
func (im *importer) decide(ctx context.Context, tx Tx, p *plan, r row) (string, error) {
	if r.err != "" {
		return r.err, nil
	}
	groups, problem := im.resolveGroups(p, r.groups)
	if problem != "" {
		return problem, nil
	}
	if old, ok := p.existing[r.key]; ok {
		return im.decideUpdate(ctx, tx, p, r, old, groups)
	}
	return im.decideCreate(ctx, tx, p, r, groups)
}

// decideCreate creates the identity a row describes, in its groups.
func (im *importer) decideCreate(ctx context.Context, tx Tx, p *plan, r row, groups []directory.Group) (string, error) {
	i, err := directory.NewIdentity(im.job.TenantID, im.job.RealmID, r.newIdentity(), p.at, &im.ids)
	if err != nil {
		return im.h.problem(err), nil
	}
	if im.job.SendBindingEmail != "" && i.Traits.PrimaryEmailAddress == "" {
		return im.h.column("traits.primary_email_address") + ": required to send a binding e-mail", nil
	}
	if problem, err := im.joinProblem(ctx, tx, groups); err != nil || problem != "" {
		return problem, err
	}
	p.changes.Creates = append(p.changes.Creates, i)
	p.join(i.ID, groups)
	p.job.Created++
	return "", nil
}

// decideUpdate changes an existing identity as a row says, and adds it to
// the row's groups it is not in.
func (im *importer) decideUpdate(ctx context.Context, tx Tx, p *plan, r row, old directory.Identity, groups []directory.Group) (string, error) {
	edited := r.applyTo(im.h, old)
	missing := notMemberOf(groups, p.memberOf[old.ID])
	if edited == old && len(missing) == 0 {
		p.job.Unchanged++
		return "", nil
	}
	if !im.job.UpdateExisting {
		return "an identity with this username exists" + HintUpdateExisting, nil
	}
	if problem, err := im.joinProblem(ctx, tx, missing); err != nil || problem != "" {
		return problem, err
	}
	i, err := directory.EditIdentity(old, edited, p.at)
	if err != nil {
		return im.h.problem(err), nil
	}
	if edited != old {
		p.changes.Updates = append(p.changes.Updates, directory.Update{Old: old, New: i})
	}
	p.join(old.ID, missing)
	p.job.Updated++
	return "", nil
}

// join adds an identity to groups.
func (p *plan) join(id string, groups []directory.Group) {
	for _, g := range groups {
		p.changes.Members[g.ID] = append(p.changes.Members[g.ID], id)
	}
}

// resolveGroups returns the groups a row names. A missing group is
// created with CreateGroups, or else is the row's problem.
func (im *importer) resolveGroups(p *plan, names []string) ([]directory.Group, string) {
	var out []directory.Group
	for _, name := range names {
		k := directory.Fold(name)
		g, ok := im.groups[k]
		if !ok {
			g, ok = p.newGroups[k]
		}
		if !ok {
			if !im.job.CreateGroups {
				return nil, fmt.Sprintf("group %q does not exist", name) + HintCreateGroups
			}
			var err error
			if g, err = directory.NewGroup(im.job.TenantID, im.job.RealmID, directory.Group{DisplayName: name}, p.at); err != nil {
				return nil, fmt.Sprintf("group %q: %s", name, im.h.problem(err))
			}
			p.newGroups[k] = g
			p.changes.Groups = append(p.changes.Groups, g)
			im.close(g.ID, "") // a new group has no roles
		}
		out = append(out, g)
	}
	return out, ""
}

// close records why rows cannot join a group ("" when they can).
func (im *importer) close(groupID, problem string) {
	if im.closed == nil {
		im.closed = map[string]string{}
	}
	im.closed[groupID] = problem
}

// joinProblem says why a row cannot join one of groups: a group whose roles
// give management scopes that the import's actor does not hold. The import
// runs after its request, with the actor but not its token's scopes, so
// only the system's imports (none today) fill such groups: add
// administrators through the API or the console.
func (im *importer) joinProblem(ctx context.Context, tx Tx, groups []directory.Group) (string, error) {
	for _, g := range groups {
		problem, ok := im.closed[g.ID]
		if !ok {
			err := directory.MayAddMembers(ctx, tx, g.ID)
			if err != nil && !directory.Refused(err) {
				return "", err
			}
			if err != nil {
				problem = fmt.Sprintf("group %q gives management scopes through its roles: add its members through the API or the console", g.DisplayName)
			}
			im.close(g.ID, problem)
		}
		if problem != "" {
			return problem, nil
		}
	}
	return "", nil
}

// notMemberOf returns those of want that are not among have.
func notMemberOf(want, have []directory.Group) []directory.Group {
	var out []directory.Group
	for _, g := range want {
		found := false
		for _, h := range have {
			found = found || h.ID == g.ID
		}
		if !found {
			out = append(out, g)
		}
	}
	return out
}

// failure is the record of a failed row: its fields as the file has them,
// padded to the header's width, or an unreadable row's text.
func (im *importer) failure(r row, reason string) Failure {
	fields := r.fields
	if fields == nil {
		fields = []string{r.raw}
	}
	if len(fields) < len(im.h.names) {
		fields = append(fields[:len(fields):len(fields)], make([]string, len(im.h.names)-len(fields))...)
	}
	return Failure{Line: r.line, Record: encodeRecord(fields), Error: reason}
}

// sendEmails sends the binding e-mails of new identities, after their
// batch committed. One that fails is logged; the identity stays.
func (im *importer) sendEmails(ctx context.Context, ids []string) {
	cfg := im.job.SendBindingEmail
	if cfg == "" || im.w.Service.Mailer == nil {
		return
	}
	for _, id := range ids {
		if err := im.w.Service.Mailer.SendBindingEmail(ctx, im.job.TenantID, im.job.RealmID, id, cfg); err != nil {
			im.w.Logger.Warn("binding e-mail of imported identity", "import_job", im.job.ID, "identity_id", id, "err", err)
			continue
		}
		im.job.EmailsSent++
	}
}
