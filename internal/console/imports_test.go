package console_test

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// upload posts a CSV file as the upload form does without script: the CSRF
// token in the query, the options and the file as multipart fields.
func (e *env) upload(t *testing.T, realm, csv string, fields map[string]string) page {
	t.Helper()
	return e.do(t, e.uploadRequest(realm, "?csrf="+url.QueryEscape(e.csrf), csv, fields))
}

// uploadRequest is the post of the upload form, to the imports path with
// query: the options and the file as multipart fields.
func (e *env) uploadRequest(realm, query, csv string, fields map[string]string) *http.Request {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, v := range fields {
		w.WriteField(k, v)
	}
	fw, _ := w.CreateFormFile("file", "people.csv")
	fw.Write([]byte(csv))
	w.Close()
	req, _ := http.NewRequest("POST", e.url+"/console/realms/"+realm+"/imports"+query, &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Origin", e.url)
	return req
}

// waitForJob loads an import job's page until the job is done.
func (e *env) waitForJob(t *testing.T, path string) page {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		p := e.get(t, path)
		if p.status != http.StatusOK {
			t.Fatalf("job page: %d %s", p.status, excerpt(p.body))
		}
		if strings.Contains(p.body, `data-job-state="SUCCEEDED"`) || strings.Contains(p.body, `data-job-state="FAILED"`) {
			return p
		}
	}
	t.Fatalf("the import at %s did not finish", path)
	return page{}
}

func count(t *testing.T, p page, name string) string {
	t.Helper()
	m := regexp.MustCompile(`data-count="` + name + `">(\d+)<`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no %s count on %s", name, excerpt(p.body))
	}
	return m[1]
}

func TestCSVUpload(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		realm := e.api(t, "POST", "/realms", map[string]any{"realm": map[string]any{"display_name": "Import", "classification": "SECURE_CUSTOMER"}})["id"].(string)
		csv := "username,email,display_name,groups\nalan,alan@example.com,Alan Turing,Staff\nbad,not-an-email,Bad Row,\nedsger,edsger@example.com,Edsger Dijkstra,Staff\n"

		// No file: the form says so.
		p := e.upload(t, realm, "", map[string]string{"mode": "dry"})
		wantPage(t, p, http.StatusUnprocessableEntity, "the first line must name the columns")

		// The dry run previews the row errors and creates nothing.
		p = e.upload(t, realm, csv, map[string]string{"mode": "dry", "create_groups": "true"})
		if p.status != http.StatusSeeOther {
			t.Fatalf("dry run: %d %s", p.status, excerpt(p.body))
		}
		job := e.waitForJob(t, p.location)
		wantPage(t, job, http.StatusOK, "Preview (dry run)", "Rows with errors")
		if count(t, job, "created") != "2" || count(t, job, "failed") != "1" {
			t.Fatalf("dry run counts: %s", excerpt(job.body))
		}
		if n := len(e.api(t, "GET", "/realms/"+realm+"/identities", nil)["identities"].([]any)); n != 0 {
			t.Fatalf("the dry run created %d identities", n)
		}

		// The import creates the good rows, and the report holds the bad one.
		p = e.upload(t, realm, csv, map[string]string{"mode": "run", "create_groups": "true"})
		job = e.waitForJob(t, p.location)
		if count(t, job, "created") != "2" || count(t, job, "failed") != "1" {
			t.Fatalf("import counts: %s", excerpt(job.body))
		}
		if n := len(e.api(t, "GET", "/realms/"+realm+"/identities", nil)["identities"].([]any)); n != 2 {
			t.Fatalf("the import made %d identities, want 2", n)
		}
		report := e.get(t, p.location+"/errors.csv")
		if report.status != http.StatusOK || !strings.Contains(report.body, "bad,not-an-email,Bad Row") || !strings.Contains(report.body, "line 3") {
			t.Fatalf("error report: %d %q", report.status, report.body)
		}

		// htmx polls the job as a fragment.
		req, _ := http.NewRequest("GET", e.url+p.location, nil)
		req.Header.Set("HX-Request", "true")
		req.Header.Set("HX-Target", "job")
		frag := e.do(t, req)
		if frag.status != http.StatusOK || strings.Contains(frag.body, "<html") || !strings.Contains(frag.body, "data-job-state") {
			t.Fatalf("job fragment: %d %s", frag.status, excerpt(frag.body))
		}
	})
}

// uploadHX posts a CSV file as htmx does: the CSRF token in a header and
// HX-Request set, so that a refusal answers the fragment the page swaps in.
func (e *env) uploadHX(t *testing.T, realm, csv string, fields map[string]string) page {
	t.Helper()
	req := e.uploadRequest(realm, "", csv, fields)
	req.Header.Set("HX-Request", "true")
	req.Header.Set("X-CSRF-Token", e.csrf)
	return e.do(t, req)
}

// TestCSVUploadTellsWhy: a refused file answers its reason as the fragment
// htmx swaps in; rows that fail alike are one problem named by the form's
// checkbox; a dry run whose every row failed is not badged "succeeded".
func TestCSVUploadTellsWhy(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		realm := e.api(t, "POST", "/realms", map[string]any{"realm": map[string]any{"display_name": "Why", "classification": "SECURE_CUSTOMER"}})["id"].(string)

		p := e.uploadHX(t, realm, "username,emial\nalan,alan@example.com\n", map[string]string{"mode": "dry"})
		wantPage(t, p, http.StatusUnprocessableEntity, `role="alert"`, "The first line of the file (the column names): unknown column &#34;emial&#34;")
		if strings.Contains(p.body, "<html") {
			t.Fatalf("a refusal to htmx answered a whole page: %s", excerpt(p.body))
		}

		var csv strings.Builder
		csv.WriteString("username,groups\n")
		for i := range 30 {
			fmt.Fprintf(&csv, "user%d,Staff\n", i)
		}
		csv.WriteString("carol,\n")
		p = e.upload(t, realm, csv.String(), map[string]string{"mode": "dry"})
		job := e.waitForJob(t, p.location)
		wantPage(t, job, http.StatusOK, `data-outcome="finished with errors"`,
			`data-problem-rows="30"><td>30 rows</td><td>Group &#34;Staff&#34; does not exist – tick “Create the groups that rows name”.</td><td>2</td>`)
		if strings.Contains(job.body, "create_groups") {
			t.Fatalf("the job page names the API's option: %s", excerpt(job.body))
		}

		p = e.upload(t, realm, "username,groups\nann,Staff\nbob,Staff\n", map[string]string{"mode": "dry"})
		job = e.waitForJob(t, p.location)
		wantPage(t, job, http.StatusOK, `data-outcome="all rows failed"`, "No row would be imported")

		// A second import while one runs: the reason, not silence.
		e.upload(t, realm, csv.String(), map[string]string{"mode": "dry"})
		p = e.uploadHX(t, realm, csv.String(), map[string]string{"mode": "dry"})
		if p.status == http.StatusUnprocessableEntity {
			wantPage(t, p, http.StatusUnprocessableEntity, "An import job is already running in this realm")
		} else if p.status != http.StatusOK { // the first one finished meanwhile: its job fragment
			t.Fatalf("second upload: %d %s", p.status, excerpt(p.body))
		}
	})
}
