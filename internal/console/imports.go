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
	NoEmail string // why no binding e-mail can be sent, when none can
	Error   string
}

// ProblemsShown is how many distinct row errors the job page lists; the
// error report has every failed row.
const ProblemsShown = 20

func (c *Console) uploadForm(q *request) (uploadForm, error) {
	configs, _, err := c.Passkeys.ListAuthenticatorConfigs(q.Context(), q.tenantID, q.realm.ID, latchkey.ListOptions{Limit: MaxChoices, SkipTotal: true})
	return uploadForm{Configs: configs, NoEmail: c.emailMissing()}, err
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
		// htmx puts the refusal where the job would have appeared, below
		// the buttons just pressed (the layout's htmx-config swaps 4xx).
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
	if f.Options.SendBindingEmail != "" && f.NoEmail != "" {
		return refuse(f.NoEmail)
	}
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
		msg, ok := uploadRefusal(err)
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

// uploadRefusal words the service's refusal of a file for the person who
// chose it: the header's and the file's problems say where they are.
func uploadRefusal(err error) (string, bool) {
	f := form{Values: map[string]string{"header": "", "file": ""}, Errors: map[string]string{}}
	if !f.refused(err, "") {
		return "", false
	}
	msg := f.Message
	if e := f.Errors["header"]; e != "" {
		msg = joinMessage(msg, "The first line of the file (the column names): "+e+". Known columns: username, display_name, email, groups and the traits such as given_name.")
	}
	if e := f.Errors["file"]; e != "" {
		msg = joinMessage(msg, "The file: "+e+".")
	}
	return sentence(msg), true
}

// sentence starts s with a capital and ends it with a full stop.
func sentence(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// jobView is an import job's page: progress while it runs, then the counts,
// the outcome in words and the errors of the failed rows, grouped.
type jobView struct {
	Job      provisioning.Job
	Problems []problem
	// MoreProblems says that Problems are the most frequent only.
	MoreProblems bool
	Percent      int
}

// problem is one row error shared by Rows rows, worded for the console.
type problem struct {
	provisioning.Problem
	Message string
}

// Outcome is what a finished job's badge says: a job that processed every
// row "succeeded" as a job, but that is not what the administrator asks.
func (v jobView) Outcome() outcome {
	j := v.Job
	switch {
	case !j.Done():
		return outcome{strings.ToLower(j.State), "pending"}
	case j.State == provisioning.Failed:
		return outcome{"failed", "failed"}
	case j.Failed > 0 && j.Failed == j.RowsTotal:
		return outcome{"all rows failed", "failed"}
	case j.Failed > 0:
		return outcome{"finished with errors", "pending"}
	}
	return outcome{"succeeded", "ok"}
}

// outcome is a badge: its words and its colour's class.
type outcome struct{ Label, Class string }

// rowProblem words a row's error with the upload form's own labels
// instead of the API's option names.
var rowProblem = strings.NewReplacer(
	provisioning.HintCreateGroups, " – tick “Create the groups that rows name”",
	provisioning.HintUpdateExisting, " – tick “Update identities that exist”")

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
	if j.Done() && j.Failed > 0 {
		ps, err := c.Provisioning.Problems(q.Context(), q.tenantID, q.realm.ID, j.ID, ProblemsShown)
		if err != nil {
			return err
		}
		for _, p := range ps {
			v.Problems = append(v.Problems, problem{Problem: p, Message: sentence(rowProblem.Replace(p.Error))})
		}
		v.MoreProblems = len(ps) == ProblemsShown
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
