package console

import (
	"net/http"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/passkey"
	"github.com/latchkey/latchkey/internal/provisioning"
)

func (c *Console) importRoutes(mux *http.ServeMux) {
	c.handle(mux, "GET "+realmPrefix+"/imports/new", c.newImport, "identities:create", "identities:update", "groups:update")
	c.handle(mux, "POST "+realmPrefix+"/imports", c.createImport, "identities:create", "identities:update", "groups:update")
	c.handle(mux, "GET "+realmPrefix+"/imports/{job}", c.importJob, "identities:read")
	c.handle(mux, "GET "+realmPrefix+"/imports/{job}/errors.csv", c.importErrors, "identities:read")
}

// uploadForm is the CSV upload form: its options, the configs a binding
// e-mail can use, and what was refused.
type uploadForm struct {
	Options provisioning.Options
	Configs []passkey.AuthenticatorConfig
	Error   string
}

// FailuresShown is how many failed rows the job page lists; the error
// report has them all.
const FailuresShown = 100

func (c *Console) uploadForm(q *request) (uploadForm, error) {
	configs, _, err := c.Passkeys.ListAuthenticatorConfigs(q.Context(), q.tenantID, q.realm.ID, latchkey.ListOptions{Limit: MaxChoices, SkipTotal: true})
	return uploadForm{Configs: configs}, err
}

func (c *Console) newImport(q *request) error {
	f, err := c.uploadForm(q)
	if err != nil {
		return err
	}
	q.render(http.StatusOK, "import_new.html", "CSV upload", "identities", f)
	return nil
}

// createImport starts an import of the uploaded file: a dry run when the
// mode says so (the preview), else the import itself. The page keeps the
// chosen file, so that after the preview the same file is imported.
func (c *Console) createImport(q *request) error {
	q.Body = http.MaxBytesReader(q.w, q.Body, provisioning.MaxFileSize+1<<20)
	f, err := c.uploadForm(q)
	if err != nil {
		return err
	}
	refuse := func(msg string) error {
		f.Error = msg
		if q.Header.Get("HX-Request") != "" {
			q.renderFragment(http.StatusUnprocessableEntity, "import_new.html", "upload-error", "CSV upload", "identities", f)
			return nil
		}
		q.render(http.StatusUnprocessableEntity, "import_new.html", "CSV upload", "identities", f)
		return nil
	}
	// Large files spill to temporary files, removed when the request ends.
	if err := q.ParseMultipartForm(8 << 20); err != nil {
		return refuse("The upload could not be read: choose a CSV file of at most 100 MB.")
	}
	defer q.MultipartForm.RemoveAll()
	f.Options = provisioning.Options{DryRun: q.FormValue("mode") != "run", UpdateExisting: q.FormValue("update_existing") != "",
		CreateGroups: q.FormValue("create_groups") != "", SendBindingEmail: q.FormValue("send_binding_email")}
	if !q.principal.HasScopes(f.Options.Scopes()) {
		return refuse("Your administrator role does not grant " + strings.Join(f.Options.Scopes(), ", ") + ".")
	}
	file, _, err := q.FormFile("file")
	if err != nil {
		return refuse("Choose a CSV file.")
	}
	defer file.Close()
	j, err := c.Provisioning.CreateJob(q.Context(), q.tenantID, q.realm.ID, file, f.Options)
	if err != nil {
		msg, ok := refusal(err)
		if !ok {
			return err
		}
		return refuse(msg)
	}
	if q.Header.Get("HX-Request") != "" {
		return c.renderJob(q, j, "job")
	}
	q.redirect(q.realmPath("/imports/"+j.ID), "")
	return nil
}

// jobView is an import job's page: progress while it runs, then the counts
// and the first failed rows.
type jobView struct {
	Job      provisioning.Job
	Failures []provisioning.Failure
	Percent  int
}

func (c *Console) importJob(q *request) error {
	j, err := c.Provisioning.GetJob(q.Context(), q.tenantID, q.realm.ID, q.PathValue("job"))
	if err != nil {
		return err
	}
	if q.Header.Get("HX-Target") == "job" {
		return c.renderJob(q, j, "job")
	}
	return c.renderJob(q, j, "layout")
}

// renderJob writes an import job as a whole page or as its "job" fragment,
// which polls itself until the job is done.
func (c *Console) renderJob(q *request, j provisioning.Job, name string) error {
	v := jobView{Job: j}
	if j.RowsTotal > 0 {
		v.Percent = j.RowsDone * 100 / j.RowsTotal
	}
	if j.Done() {
		fs, err := c.Provisioning.Failures(q.Context(), q.tenantID, q.realm.ID, j.ID, 0, FailuresShown)
		if err != nil {
			return err
		}
		v.Failures = fs
	}
	q.renderFragment(http.StatusOK, "import_job.html", name, "CSV import", "identities", v)
	return nil
}

// importErrors downloads the failed rows as CSV, ready to fix and upload again.
func (c *Console) importErrors(q *request) error {
	if _, err := c.Provisioning.GetJob(q.Context(), q.tenantID, q.realm.ID, q.PathValue("job")); err != nil {
		return err
	}
	q.w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	q.w.Header().Set("Content-Disposition", `attachment; filename="import-`+q.PathValue("job")+`-errors.csv"`)
	return c.Provisioning.WriteErrorReport(q.Context(), q.tenantID, q.realm.ID, q.PathValue("job"), q.w)
}
