package provisioning

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
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
	return w.Service.store.Update(ctx, func(tx Tx) error { return w.save(ctx, tx, j, j.RowsDone, action) })
}

// save stores the job's progress, which continues from rows done, under
// the lease, with an audit event.
func (w *Worker) save(ctx context.Context, tx Tx, j Job, from int, action string) error {
	t := w.Service.Clock.Now()
	j.UpdateTime = t
	if err := tx.SaveImportJob(ctx, j, from, w.Owner, t.Add(w.lease())); err != nil {
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
	// planned is the job as the batches planned so far leave it; job is
	// as the committed ones do.
	planned Job
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
	im.planned = im.job
	var stores []*batch // being stored, in file order
	defer func() { im.wait(stores) }()
	for {
		for len(stores) >= storeAhead || len(stores) > 0 && im.storeAlone(stores) {
			if stores, err = im.retire(ctx, stores); err != nil {
				return err
			}
		}
		rows, err := im.readBatch(ctx)
		if err != nil || len(rows) == 0 {
			for err == nil && len(stores) > 0 {
				stores, err = im.retire(ctx, stores)
			}
			if err != nil {
				return err
			}
			break
		}
		p, err := im.plan(ctx, rows)
		if err != nil {
			return err
		}
		var before *batch
		if len(stores) > 0 {
			before = stores[len(stores)-1]
		}
		stores = append(stores, im.store(ctx, rows, p, before))
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

// readBatch reads the next batch of rows, none at the end of the file.
func (im *importer) readBatch(ctx context.Context) ([]row, error) {
	rows := make([]row, 0, batchSize)
	for len(rows) < batchSize {
		r, ok, err := im.read(ctx)
		if err != nil || !ok {
			return rows, err
		}
		rows = append(rows, r)
	}
	return rows, nil
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

// storeAhead is how many batches an import stores at once while it reads
// and plans the next: planning (parsing, the directory's rules, reading the
// identities that rows name) runs beside the storing, and on PostgreSQL two
// batches' inserts run in two backends. An import of 1,000,000 rows with
// groups kept one PostgreSQL backend busy while the machine was half idle.
// A batch continues the progress of the one before it (SaveImportJob), so
// the batches commit in file order, and one whose predecessor failed does
// not commit; it waits for that one's end before it marks its groups
// changed (directory.Changes.Ready), which the one before it marks too.
// Some batches are stored alone (storeAlone).
const storeAhead = 2

// storeAlone reports whether the next batch must wait for those being
// stored before it is planned: when the import sends binding e-mails, or
// when one of them creates groups, which the next may join (a membership
// of a group not yet committed would not find it).
func (im *importer) storeAlone(stores []*batch) bool {
	if im.job.SendBindingEmail != "" {
		return true
	}
	for _, b := range stores {
		if len(b.plan.changes.Groups) > 0 {
			return true
		}
	}
	return false
}

// batch is a batch of rows, planned, whose changes are being stored.
type batch struct {
	rows []row
	plan *plan
	// The stages of its storing: its transaction began, its statements
	// ran, its transaction ended (each with the error that ended it
	// there, if any).
	begun, written, ended signal
}

// signal is a stage reached once, with an error or nil.
type signal struct {
	ch   chan struct{}
	once sync.Once
	err  error
}

func newSignal() signal { return signal{ch: make(chan struct{})} }

// reach marks the stage reached with err, unless it was already.
func (s *signal) reach(err error) {
	s.once.Do(func() {
		s.err = err
		close(s.ch)
	})
}

// wait waits for the stage and returns its error.
func (s *signal) wait() error {
	<-s.ch
	return s.err
}

// errBatchBefore fails a batch whose predecessor failed, or did not run
// its statements in time.
var errBatchBefore = errors.New("the batch before failed")

// plan is what an import decides for the rows of one batch.
type plan struct {
	job       Job // as the batch leaves it
	from      int // rows done before the batch
	at        time.Time
	existing  map[string]directory.Identity // by folded username
	memberOf  map[string][]directory.Group  // groups of the existing identities, when the file has groups
	newGroups map[string]directory.Group    // by folded name
	changes   directory.Changes
	failures  []Failure
}

// plan decides every row of a batch with the directory's rules, on what
// the store has committed and the batches planned before it: a username
// is in one batch only (read), and the groups that earlier batches create
// are among im.groups. Its identities take ids from runs of their own.
func (im *importer) plan(ctx context.Context, rows []row) (*plan, error) {
	im.ids.NewRun()
	p, err := im.begin(ctx, im.w.Service.store, rows)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		problem, err := im.decide(ctx, im.w.Service.store, p, r)
		if err != nil {
			return nil, err
		}
		if problem != "" {
			p.job.Failed++
			p.failures = append(p.failures, im.failure(r, problem))
		}
	}
	for k, g := range p.newGroups {
		im.groups[k] = g
	}
	p.job.RowsDone += len(rows)
	im.planned = p.job
	return p, nil
}

// store stores a planned batch in a transaction of its own, in the
// background, after before (nil when there is none being stored).
func (im *importer) store(ctx context.Context, rows []row, p *plan, before *batch) *batch {
	b := &batch{rows: rows, plan: p, begun: newSignal(), written: newSignal(), ended: newSignal()}
	go func() {
		// The batch before begins first: on SQLite, whose one writing
		// connection a transaction holds to its end, this one would
		// otherwise wait in it for that one, which waits for the connection.
		if before != nil {
			before.begun.wait()
		}
		err := im.w.Service.store.Update(ctx, func(tx Tx) error {
			b.begun.reach(nil)
			err := im.storePlan(ctx, tx, p, before)
			b.written.reach(err)
			return err
		})
		b.begun.reach(err) // when the transaction did not begin
		b.written.reach(err)
		b.ended.reach(err)
	}()
	return b
}

// storePlan stores what a batch changes (unless in a dry run), its failed
// rows and the job's progress. Before it marks groups changed, it waits
// until the batch before (if any) has run its statements: that one then
// holds its groups' rows to its commit, which PostgreSQL makes this one
// wait for, and if it does not commit, this one's save finds the progress
// it continues missing. (Waiting for that commit itself would wait for
// the end of its Update, which may want the connection that this one
// holds, SQLite's one writer.)
func (im *importer) storePlan(ctx context.Context, tx Tx, p *plan, before *batch) error {
	// The wait is bounded by the lease: a lock that the batch before
	// waited for, held by this one, would otherwise stop both for good.
	ready := func() error {
		if before == nil {
			return nil
		}
		select {
		case <-before.written.ch:
		case <-time.After(im.w.lease()):
			return errBatchBefore
		}
		if before.written.err != nil {
			return errBatchBefore
		}
		return nil
	}
	if !p.job.DryRun {
		changes := p.changes
		changes.Ready = ready
		if err := directory.StoreChanges(ctx, tx, changes); err != nil {
			return err
		}
	}
	if err := ready(); err != nil {
		return err
	}
	if err := tx.AddImportFailures(ctx, p.job.ID, p.failures); err != nil {
		return err
	}
	return im.w.save(ctx, tx, p.job, p.from, "import_job.apply_batch")
}

// retire waits for the first of the batches being stored and returns the
// others. When it failed because a username or group name was taken
// meanwhile (latchkey.ErrDuplicate), or waited too long for the one before
// it, it waits for the batches after it, which cannot commit either, then
// plans and stores each of them again, alone.
func (im *importer) retire(ctx context.Context, stores []*batch) ([]*batch, error) {
	if err := stores[0].ended.wait(); err != nil {
		im.wait(stores[1:])
		if !errors.Is(err, latchkey.ErrDuplicate) && !errors.Is(err, errBatchBefore) {
			return nil, err
		}
		for _, b := range stores {
			if err := im.storeAgain(ctx, b.rows); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}
	im.committed(ctx, stores[0].plan)
	return stores[1:], nil
}

// storeAgain plans and stores a batch in the foreground, looking at the
// realm's groups again first, twice at most.
func (im *importer) storeAgain(ctx context.Context, rows []row) error {
	for attempt := 1; ; attempt++ {
		if err := im.loadGroups(ctx); err != nil {
			return err
		}
		im.closed, im.planned = nil, im.job
		p, err := im.plan(ctx, rows)
		if err != nil {
			return err
		}
		err = im.w.Service.store.Update(ctx, func(tx Tx) error { return im.storePlan(ctx, tx, p, nil) })
		if errors.Is(err, latchkey.ErrDuplicate) && attempt < 2 {
			continue
		}
		if err != nil {
			return err
		}
		im.committed(ctx, p)
		return nil
	}
}

// committed takes a stored batch's progress as the job's and sends the
// binding e-mails of its new identities.
func (im *importer) committed(ctx context.Context, p *plan) {
	im.job = p.job
	var created []string
	if !p.job.DryRun {
		for _, i := range p.changes.Creates {
			created = append(created, i.ID)
		}
	}
	sent := im.sendEmails(ctx, created)
	im.job.EmailsSent += sent
	im.planned.EmailsSent += sent
}

// wait waits for batches being stored and takes the progress of those
// that committed, for a failure to record after them.
func (im *importer) wait(stores []*batch) {
	for _, b := range stores {
		if b.ended.wait() == nil {
			im.job = b.plan.job
		}
	}
}

// begin reads the identities that rows name, with their groups when the
// file has groups.
func (im *importer) begin(ctx context.Context, tx Tx, rows []row) (*plan, error) {
	p := &plan{job: im.planned, from: im.planned.RowsDone, at: im.w.Service.Clock.Now(), existing: map[string]directory.Identity{},
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
// batch committed. One that fails is logged; the identity stays. It
// returns how many it sent.
func (im *importer) sendEmails(ctx context.Context, ids []string) (sent int) {
	cfg := im.job.SendBindingEmail
	if cfg == "" || im.w.Service.Mailer == nil {
		return 0
	}
	for _, id := range ids {
		if err := im.w.Service.Mailer.SendBindingEmail(ctx, im.job.TenantID, im.job.RealmID, id, cfg); err != nil {
			im.w.Logger.Warn("binding e-mail of imported identity", "import_job", im.job.ID, "identity_id", id, "err", err)
			continue
		}
		sent++
	}
	return sent
}
