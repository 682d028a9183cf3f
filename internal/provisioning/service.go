package provisioning

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/filter"
)

// Service creates import jobs, reports on them and exports realms. The
// Worker runs the jobs.
type Service struct {
	store Store
	// Mailer sends binding e-mails; nil refuses the send_binding_email option.
	Mailer BindingMailer
	// Wake, when set, is called after a job is created (the Worker's Wake).
	Wake func()
	// Clock dates jobs and times the Worker's leases.
	Clock latchkey.Clock
}

// NewService returns a Service over store.
func NewService(store Store) *Service { return &Service{store: store} }

var (
	errTooLarge   = latchkey.Errorf(latchkey.CodePayloadTooLarge, "the CSV file is larger than 100 MB")
	errTooMany    = latchkey.Errorf(latchkey.CodePayloadTooLarge, "the CSV file has more than 1,000,000 rows")
	errJobRunning = latchkey.Errorf(latchkey.CodeConflict, "an import job is already running in this realm")
	errNoMailer   = latchkey.Errorf(latchkey.CodeUnprocessable, "binding e-mail is not available")
)

// CreateJob queues the import of a CSV file into a realm. The file is read
// to its end and checked before the transaction that stores it with the
// job begins, so that a slow sender holds no write lock; a file refused
// part way (too large, too many rows, cut short) leaves nothing behind. A
// bad header, a file beyond the limits, or a realm with a job not yet done
// refuse it; problems of single rows are reported by the job.
func (s *Service) CreateJob(ctx context.Context, tenantID, realmID string, file io.Reader, opts Options) (Job, error) {
	if opts.SendBindingEmail != "" {
		if s.Mailer == nil {
			return Job{}, errNoMailer
		}
		if err := s.Mailer.CheckBindingConfig(ctx, tenantID, realmID, opts.SendBindingEmail); err != nil {
			return Job{}, err
		}
	}
	if _, err := directory.LookupRealm(ctx, s.store, tenantID, realmID); err != nil {
		return Job{}, err
	}
	sp, err := spool(file)
	if err != nil {
		return Job{}, err
	}
	defer sp.close()
	switch sp.records {
	case 0:
		return Job{}, latchkey.InvalidField("file", "empty: the first line must name the columns")
	case 1:
		return Job{}, latchkey.InvalidField("file", "no rows after the header")
	}
	a, t := latchkey.ActorFrom(ctx), s.Clock.Now()
	j := Job{ID: latchkey.NewID(), TenantID: tenantID, RealmID: realmID, State: Queued, Options: opts,
		Columns: sp.header.names, RowsTotal: sp.records - 1, ActorType: a.Type, ActorID: a.ID, CreateTime: t, UpdateTime: t}
	err = s.store.Update(ctx, func(tx Tx) error {
		buf := make([]byte, chunkSize)
		for seq := range sp.ends {
			chunk, err := sp.chunk(seq, buf)
			if err != nil {
				return err
			}
			if err := tx.AddImportChunk(ctx, j.ID, seq, chunk); err != nil {
				return err
			}
		}
		return createJob(ctx, tx, j, t)
	})
	return s.started(j, err)
}

// GetJob returns an import job of a realm.
func (s *Service) GetJob(ctx context.Context, tenantID, realmID, id string) (Job, error) {
	j, err := s.store.GetImportJob(ctx, tenantID, realmID, id)
	if errors.Is(err, latchkey.ErrNotFound) {
		return Job{}, jobNotFound(id)
	}
	return j, err
}

// Failures returns up to limit failed rows of a job after line afterLine.
func (s *Service) Failures(ctx context.Context, tenantID, realmID, id string, afterLine, limit int) ([]Failure, error) {
	if _, err := s.GetJob(ctx, tenantID, realmID, id); err != nil {
		return nil, err
	}
	return s.store.ListImportFailures(ctx, id, afterLine, limit)
}

// Problems returns up to limit distinct errors of a job's failed rows with
// their counts, the most frequent first: a file whose rows fail alike
// reads as one problem, not as a thousand lines.
func (s *Service) Problems(ctx context.Context, tenantID, realmID, id string, limit int) ([]Problem, error) {
	if _, err := s.GetJob(ctx, tenantID, realmID, id); err != nil {
		return nil, err
	}
	return s.store.ListImportProblems(ctx, id, limit)
}

// reportPage is how many failures the error report reads at once.
const reportPage = 5000

// WriteErrorReport writes a job's failed rows as CSV: the file's columns
// and an "error" column ("line 7: …"), so that the rows can be fixed and
// imported again as they are. Nothing is written when the job is not found.
func (s *Service) WriteErrorReport(ctx context.Context, tenantID, realmID, id string, w io.Writer) error {
	j, err := s.GetJob(ctx, tenantID, realmID, id)
	if err != nil {
		return err
	}
	cols := j.Columns
	errCol := -1
	for i, c := range cols {
		if strings.EqualFold(strings.TrimSpace(c), colError) {
			errCol = i
		}
	}
	if errCol < 0 {
		cols, errCol = append(cols[:len(cols):len(cols)], colError), len(cols)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := csv.NewWriter(bw)
	cw.Write(cols)
	for after := 0; ; {
		fs, err := s.store.ListImportFailures(ctx, id, after, reportPage)
		if err != nil {
			return err
		}
		for _, f := range fs {
			fields, _ := csv.NewReader(bytes.NewReader(f.Record)).Read()
			row := make([]string, len(cols))
			copy(row, fields)
			row[errCol] = fmt.Sprintf("line %d: %s", f.Line, f.Error)
			cw.Write(row)
			after = f.Line
		}
		if len(fs) < reportPage {
			break
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

// exportPage is how many identities an export reads at once.
const exportPage = 2000

// Export writes the identities of a realm that match f (nil: all) as CSV
// in the import format (ExportColumns), streaming, with cells that a
// spreadsheet would run as formulas neutralized. Nothing is written when
// the realm is not found.
func (s *Service) Export(ctx context.Context, tenantID, realmID string, f filter.Expr, w io.Writer) error {
	if _, err := directory.LookupRealm(ctx, s.store, tenantID, realmID); err != nil {
		return err
	}
	// The next page is read while this one is written: the database (or,
	// on SQLite, the reading goroutine) works beside the CSV encoding and
	// the response instead of taking turns with them.
	ctx, cancel := context.WithCancel(ctx)
	pages := make(chan page, 1)
	go s.readPages(ctx, realmID, f, pages)
	defer func() {
		cancel()
		for range pages { // wait for the reader
		}
	}()
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := csv.NewWriter(bw)
	cw.Write(ExportColumns)
	targets := make([]string, len(ExportColumns))
	for i, c := range ExportColumns {
		targets[i] = target(c)
	}
	cells := make([]string, len(ExportColumns))
	for p := range pages {
		if p.err != nil {
			return p.err
		}
		for _, v := range p.identities {
			for i, t := range targets {
				switch t {
				case colDisplayName:
					cells[i] = v.DisplayName
				case colStatus:
					cells[i] = v.Status
				case colGroups:
					cells[i] = groupNames(p.groups[v.ID])
				default:
					cells[i] = *v.Traits.Field(t)
				}
				cells[i] = Neutralize(cells[i])
			}
			if err := cw.Write(cells); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

// page is one page of an export: identities by id, with their groups.
type page struct {
	identities []directory.Identity
	groups     map[string][]directory.Group
	err        error // the last page's, when reading failed
}

// readPages sends the pages of an export until the last, an error, or ctx
// is done; then it closes pages.
func (s *Service) readPages(ctx context.Context, realmID string, f filter.Expr, pages chan<- page) {
	defer close(pages)
	opts := latchkey.ListOptions{Filter: f, Limit: exportPage, SkipTotal: true}
	for {
		var p page
		p.identities, _, p.err = s.store.ListIdentities(ctx, realmID, opts)
		if p.err == nil && len(p.identities) > 0 {
			ids := make([]string, len(p.identities))
			for i, v := range p.identities {
				ids[i] = v.ID
			}
			p.groups, p.err = s.store.GroupsOfIdentities(ctx, ids)
		}
		select {
		case pages <- p:
		case <-ctx.Done():
			return
		}
		if p.err != nil || len(p.identities) < exportPage {
			return
		}
		opts.After = p.identities[len(p.identities)-1].ID
	}
}

func groupNames(gs []directory.Group) string {
	names := make([]string, len(gs))
	for i, g := range gs {
		names[i] = g.DisplayName
	}
	return strings.Join(names, ";")
}

// createJob stores the new job j in tx, with its event: errJobRunning
// while another job of its realm runs.
func createJob(ctx context.Context, tx Tx, j Job, at time.Time) error {
	if err := tx.CreateImportJob(ctx, j); err != nil {
		switch {
		case errors.Is(err, latchkey.ErrDuplicate):
			return errJobRunning
		case errors.Is(err, latchkey.ErrNoParent):
			return directory.RealmNotFound(j.RealmID)
		}
		return err
	}
	return tx.RecordEvent(ctx, audit.NewAt(ctx, at, j.TenantID, j.RealmID, "import_job.create", "ImportJob", j.ID))
}

// started answers a job whose creation ended with err, and wakes the
// worker for it.
func (s *Service) started(j Job, err error) (Job, error) {
	if err != nil {
		return Job{}, err
	}
	if s.Wake != nil {
		s.Wake()
	}
	return j, nil
}
