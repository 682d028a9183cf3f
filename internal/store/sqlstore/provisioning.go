package sqlstore

import (
	"context"
	"encoding/csv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/provisioning"
)

// IdentitiesByUsername looks each key up in the unique username index. On
// PostgreSQL the keys are one array, each probed by a subquery that cannot
// be turned into a scan of the realm: with an IN list of 2,000 parameters,
// the plan that pgx's prepared statement keeps, made while identities had
// no statistics, scanned every identity of the realm and compared it with
// each key, quadratic over an import (3 to 8 times slower at 100,000 rows).
func (t *tx) IdentitiesByUsername(ctx context.Context, realmID string, keys []string) ([]directory.Identity, error) {
	var a args
	var query string
	if t.d.Name == "postgres" {
		a = args{keys, realmID}
		query = `SELECT i.* FROM unnest(CAST($1 AS TEXT[])) k (key) CROSS JOIN LATERAL (
			SELECT ` + identityColumns + ` FROM identities WHERE realm_id = $2 AND username_key = k.key LIMIT 1) i`
	} else {
		query = `SELECT ` + identityColumns + ` FROM identities WHERE username_key IN ` + t.in(&a, keys) +
			` AND realm_id = ` + t.add(&a, realmID)
	}
	rows, err := t.r.QueryContext(ctx, query, a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []directory.Identity
	for rows.Next() {
		var v directory.Identity
		if err := scanIdentity(rows, &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

const importJobColumns = `id, tenant_id, realm_id, state, dry_run, update_existing, create_groups, binding_config,
	columns, rows_total, rows_done, created, updated, unchanged, failed, emails_sent, error, actor_type, actor_id,
	create_time, update_time, action, group_id`

// csvLine and csvFields store a header as one CSV line.
func csvLine(fields []string) string {
	var b strings.Builder
	w := csv.NewWriter(&b)
	w.Write(fields)
	w.Flush()
	return strings.TrimSuffix(b.String(), "\n")
}

func csvFields(line string) []string {
	fields, _ := csv.NewReader(strings.NewReader(line)).Read()
	return fields
}

func (t *tx) AddImportChunk(ctx context.Context, jobID string, seq int, content []byte) error {
	_, err := t.exec(ctx, latchkey.ErrNoParent, `INSERT INTO import_chunks (job_id, seq, content) VALUES ($1, $2, $3)`,
		jobID, seq, content)
	return err
}

func (t *tx) CreateImportJob(ctx context.Context, j provisioning.Job) error {
	_, err := t.exec(ctx, latchkey.ErrNoParent, `INSERT INTO import_jobs (`+importJobColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)`,
		j.ID, j.TenantID, j.RealmID, j.State, j.DryRun, j.UpdateExisting, j.CreateGroups, j.SendBindingEmail,
		csvLine(j.Columns), j.RowsTotal, j.RowsDone, j.Created, j.Updated, j.Unchanged, j.Failed, j.EmailsSent, j.Error,
		j.ActorType, j.ActorID, micros(j.CreateTime), micros(j.UpdateTime), j.Action, j.GroupID)
	return err
}

func scanImportJob(s interface{ Scan(...any) error }, j *provisioning.Job) error {
	var cols string
	var ct, ut int64
	err := s.Scan(&j.ID, &j.TenantID, &j.RealmID, &j.State, &j.DryRun, &j.UpdateExisting, &j.CreateGroups,
		&j.SendBindingEmail, &cols, &j.RowsTotal, &j.RowsDone, &j.Created, &j.Updated, &j.Unchanged, &j.Failed,
		&j.EmailsSent, &j.Error, &j.ActorType, &j.ActorID, &ct, &ut, &j.Action, &j.GroupID)
	j.Columns, j.CreateTime, j.UpdateTime = csvFields(cols), fromMicros(ct), fromMicros(ut)
	return err
}

func (t *tx) GetImportJob(ctx context.Context, tenantID, realmID, id string) (provisioning.Job, error) {
	var j provisioning.Job
	err := scanImportJob(t.r.QueryRowContext(ctx, `SELECT `+importJobColumns+` FROM import_jobs
		WHERE id = $1 AND realm_id = $2 AND tenant_id = $3`, id, realmID, tenantID), &j)
	return j, notFoundIfNoRows(err)
}

func (t *tx) SaveImportJob(ctx context.Context, j provisioning.Job, from int, owner string, leaseUntil time.Time) error {
	done := j.Done()
	if err := affected(t.exec(ctx, latchkey.ErrNoParent, `UPDATE import_jobs SET state = $3, rows_done = $4, created = $5,
		updated = $6, unchanged = $7, failed = $8, emails_sent = $9, error = $10, update_time = $11,
		lease_until = CASE WHEN $12 THEN NULL ELSE CAST($13 AS BIGINT) END,
		lease_owner = CASE WHEN $12 THEN NULL ELSE lease_owner END
		WHERE id = $1 AND lease_owner = $2 AND rows_done = $14`,
		j.ID, owner, j.State, j.RowsDone, j.Created, j.Updated, j.Unchanged, j.Failed, j.EmailsSent, j.Error,
		micros(j.UpdateTime), done, micros(leaseUntil), from)); err != nil || !done {
		return err
	}
	_, err := t.exec(ctx, latchkey.ErrInUse, `DELETE FROM import_chunks WHERE job_id = $1`, j.ID)
	return err
}

func (t *tx) AddImportFailures(ctx context.Context, jobID string, fs []provisioning.Failure) error {
	rows := make([][]any, len(fs))
	for i, f := range fs {
		rows[i] = []any{jobID, f.Line, f.Record, f.Error}
	}
	return t.insert(ctx, latchkey.ErrNoParent, `INSERT INTO import_failures (job_id, line, record, error)`, rows, "")
}

func (t *tx) ListImportFailures(ctx context.Context, jobID string, afterLine, limit int) ([]provisioning.Failure, error) {
	rows, err := t.r.QueryContext(ctx, `SELECT line, record, error FROM import_failures
		WHERE job_id = $1 AND line > $2 ORDER BY line LIMIT $3`, jobID, afterLine, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []provisioning.Failure
	for rows.Next() {
		var f provisioning.Failure
		if err := rows.Scan(&f.Line, &f.Record, &f.Error); err != nil {
			return nil, err
		}
		f.Record = append([]byte{}, f.Record...) // the driver's buffer is reused; empty is not nil
		out = append(out, f)
	}
	return out, rows.Err()
}

func (t *tx) ListImportProblems(ctx context.Context, jobID string, limit int) ([]provisioning.Problem, error) {
	rows, err := t.r.QueryContext(ctx, `SELECT error, COUNT(*), MIN(line) FROM import_failures
		WHERE job_id = $1 GROUP BY error ORDER BY COUNT(*) DESC, MIN(line) LIMIT $2`, jobID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []provisioning.Problem
	for rows.Next() {
		var p provisioning.Problem
		if err := rows.Scan(&p.Error, &p.Rows, &p.FirstLine); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// ClaimImportJob leases the oldest runnable job in one statement, as
// ClaimMail does: on PostgreSQL concurrent claims skip each other's rows,
// and the UPDATE checks the conditions again; SQLite has one writer.
func (t *tx) ClaimImportJob(ctx context.Context, owner string, now time.Time, lease time.Duration) (provisioning.Job, error) {
	runnable := `(state = 'QUEUED' OR (state = 'RUNNING' AND (lease_until IS NULL OR lease_until < $3)))`
	lock := ""
	if t.d.Name == "postgres" {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	var j provisioning.Job
	err := scanImportJob(t.w.QueryRowContext(ctx, `WITH claimed AS MATERIALIZED (
			SELECT id FROM import_jobs WHERE `+runnable+` ORDER BY create_time LIMIT 1`+lock+`)
		UPDATE import_jobs SET state = 'RUNNING', lease_owner = $1, lease_until = $2, update_time = $3
		WHERE id IN (SELECT id FROM claimed) AND `+runnable+`
		RETURNING `+importJobColumns,
		owner, micros(now.Add(lease)), micros(now)), &j)
	return j, notFoundIfNoRows(err)
}

func (t *tx) ImportChunk(ctx context.Context, jobID string, seq int) ([]byte, error) {
	var content []byte
	err := one(t.r.QueryRowContext(ctx, `SELECT content FROM import_chunks WHERE job_id = $1 AND seq = $2`, jobID, seq), &content)
	return content, err
}
