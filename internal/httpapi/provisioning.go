package httpapi

import (
	"io"
	"net/http"
	"strconv"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/httpx"
	"github.com/latchkey/latchkey/internal/provisioning"
)

// The CSV import and export, our extension of the API.
func (s *Server) provisioningRoutes(mux *httpx.Mux) {
	mux.Handle("POST "+httpx.RealmPath+"/identities:import",
		s.auth(s.importIdentities, "identities:create", "identities:update", "groups:update"))
	mux.Handle("GET "+httpx.RealmPath+"/identities:export", s.auth(s.exportIdentities, "identities:read", "groups:read"))
	mux.HandleVerbs("GET "+httpx.RealmPath+"/import-jobs/{job}", httpx.Verbs{
		"":       s.auth(s.getImportJob, "identities:read"),
		"errors": s.auth(s.importErrors, "identities:read"),
	})
}

// importOptions reads the options of an import from the query string.
func importOptions(r *http.Request) (provisioning.Options, error) {
	var o provisioning.Options
	err := queryParams(r, map[string]*bool{"dry_run": &o.DryRun, "update_existing": &o.UpdateExisting, "create_groups": &o.CreateGroups},
		map[string]*string{"send_binding_email": &o.SendBindingEmail})
	return o, err
}

// queryParams reads the query string into flags (true or false) and texts;
// unknown parameters are refused, so that a misspelt option is not ignored.
func queryParams(r *http.Request, flags map[string]*bool, texts map[string]*string) error {
	for name, values := range r.URL.Query() {
		v := values[len(values)-1]
		if dst, ok := texts[name]; ok {
			*dst = v
			continue
		}
		dst, ok := flags[name]
		if !ok {
			return latchkey.InvalidField(name, "unknown parameter")
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return latchkey.InvalidField(name, "must be true or false")
		}
		*dst = b
	}
	return nil
}

func (s *Server) importIdentities(w http.ResponseWriter, r *http.Request) {
	opts, err := importOptions(r)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if !principalFrom(r.Context()).HasScopes(opts.Scopes()) {
		httpx.WriteError(w, r, httpx.ErrForbidden)
		return
	}
	// The service spools the body, within the file size limit, before it writes.
	j, err := s.Provisioning.CreateJob(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.Body, opts)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, jobView{Job: j, Failures: []failureView{}})
}

// jobView is an import job as the API shows it, with its first failures.
type jobView struct {
	provisioning.Job
	Failures []failureView `json:"failures"`
}

type failureView struct {
	Line  int    `json:"line"`
	Error string `json:"error"`
}

// jobFailuresShown is how many failures a job's answer lists; the error
// report has them all.
const jobFailuresShown = 20

func (s *Server) getImportJob(w http.ResponseWriter, r *http.Request) {
	ctx, tenant, realm, id := r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("job")
	j, err := s.Provisioning.GetJob(ctx, tenant, realm, id)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	fs, err := s.Provisioning.Failures(ctx, tenant, realm, id, 0, jobFailuresShown)
	v := jobView{Job: j, Failures: make([]failureView, len(fs))}
	for i, f := range fs {
		v.Failures[i] = failureView{Line: f.Line, Error: f.Error}
	}
	httpx.Reply(w, r, v, err)
}

// csvWriter sets the headers of a CSV download when the first byte is
// written, so that an error found before then is still answered as JSON.
type csvWriter struct {
	w        http.ResponseWriter
	filename string
	wrote    bool
}

func (c *csvWriter) Write(b []byte) (int, error) {
	if !c.wrote {
		c.wrote = true
		c.w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		c.w.Header().Set("Content-Disposition", `attachment; filename="`+c.filename+`"`)
	}
	return c.w.Write(b)
}

// serveCSV answers with the CSV that write writes. An error before the
// first byte is answered as JSON; one in the middle of the download can
// only be logged.
func (s *Server) serveCSV(w http.ResponseWriter, r *http.Request, filename string, write func(io.Writer) error) {
	out := &csvWriter{w: w, filename: filename}
	err := write(out)
	switch {
	case err == nil:
	case !out.wrote:
		httpx.WriteError(w, r, err)
	case r.Context().Err() == nil:
		s.Logger.ErrorContext(r.Context(), "CSV download cut short", "err", err, "request_id", latchkey.RequestIDFrom(r.Context()))
	}
}

func (s *Server) importErrors(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("job")
	s.serveCSV(w, r, "import-"+id+"-errors.csv", func(out io.Writer) error {
		return s.Provisioning.WriteErrorReport(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), id, out)
	})
}

func (s *Server) exportIdentities(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for name := range q {
		if name != "filter" {
			httpx.WriteError(w, r, latchkey.InvalidField(name, "unknown parameter"))
			return
		}
	}
	f, err := latchkey.ParseFilter(q.Get("filter"), directory.IdentityFilterAttributes)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	s.serveCSV(w, r, "identities.csv", func(out io.Writer) error {
		return s.Provisioning.Export(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), f, out)
	})
}
