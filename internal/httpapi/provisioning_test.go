package httpapi_test

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/provisioning"
	"github.com/latchkey/latchkey/internal/testenv"
)

// upload posts a CSV file to a realm's identities:import with the query.
func (c client) upload(t testing.TB, realm, query, file string) testenv.Response {
	t.Helper()
	h := http.Header{"Authorization": {"Bearer " + c.token}, "Content-Type": {"text/csv"}}
	return send(t, "POST", c.url("/realms/"+realm+"/identities:import"+query), h, strings.NewReader(file))
}

// importFile imports a file and waits for the job to finish; it returns the job.
func (c client) importFile(t testing.TB, realm, query, file string) map[string]any {
	t.Helper()
	resp := c.upload(t, realm, query, file)
	if resp.Status != http.StatusOK {
		t.Fatalf("import: status %d: %s", resp.Status, resp.Body)
	}
	return c.waitJob(t, realm, str(t, resp.JSON(t), "id"))
}

func (c client) waitJob(t testing.TB, realm, id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		j := c.get(t, "/realms/"+realm+"/import-jobs/"+id)
		if s := j["state"]; s == provisioning.Succeeded || s == provisioning.Failed {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("import job still %v after 60 s: %v", j["state"], j)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// counts are a job's per-row results: created, updated, unchanged, failed.
func counts(t testing.TB, j map[string]any) [4]int {
	t.Helper()
	return [4]int{num(t, j, "created"), num(t, j, "updated"), num(t, j, "unchanged"), num(t, j, "failed")}
}

// download gets a CSV download and parses it.
func (c client) download(t testing.TB, path string) [][]string {
	t.Helper()
	resp := send(t, "GET", c.url(path), http.Header{"Authorization": {"Bearer " + c.token}}, nil)
	if resp.Status != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", path, resp.Status, resp.Body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	rows, err := csv.NewReader(strings.NewReader(string(resp.Body))).ReadAll()
	if err != nil {
		t.Fatalf("GET %s: not CSV: %v\n%s", path, err, resp.Body)
	}
	return rows
}

// usernames lists the usernames of a realm.
func (c client) usernames(t testing.TB, realm string) []string {
	t.Helper()
	var out []string
	for _, i := range c.listAll(t, "/realms/"+realm+"/identities", "identities") {
		out = append(out, obj(t, i, "traits")["username"].(string))
	}
	slices.Sort(out)
	return out
}

func TestImportCSV(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		realm := newRealm(t, e.api, "Import")
		sales := newGroup(t, e.api, realm, "Sales")
		newIdentity(t, e.api, realm, "existing")
		long := strings.Repeat("x", directory.MaxTraitLength+1)
		// Columns in any order and case, a BOM, CRLF line ends.
		file := "\xEF\xBB\xBFEmail,USERNAME,Given_Name,groups,display_name,Department\r\n" +
			"alice@example.com,alice,Alice,sales,,Eng\r\n" + // line 2: new, in a group named in another case
			"bob@example.com,bob,Bob,Ghost,,\r\n" + // 3: an unknown group
			"not-an-email,carol,Carol,,,\r\n" + // 4: an invalid e-mail
			"alice2@example.com,ALICE,Alice,,,\r\n" + // 5: alice again
			"dave@example.com,dave\r\n" + // 6: ragged
			",existing,,,Identity existing,\r\n" + // 7: as it is
			"erin@example.com,erin," + long + ",,,\r\n" + // 8: too long
			"\"frank@example.com,frank,Frank,,,\r\n" + // 9: a quote left open
			"zed@example.com,zed,Zed,,,\r\n" + // 10: new
			"bad\xffutf8@example.com,gina,Gina,,,\r\n" // 11: not UTF-8
		wantFailed := map[int]string{
			3:  `group "Ghost" does not exist`,
			4:  "Email: not a valid e-mail address",
			5:  "USERNAME: repeats the username of line 2",
			6:  "has 2 fields, the header has 6",
			8:  "Given_Name: longer than 1024 bytes",
			9:  "unreadable CSV",
			11: "Email: not valid UTF-8",
		}

		dry := e.api.importFile(t, realm, "?dry_run=true", file)
		if got, want := counts(t, dry), [4]int{2, 0, 1, len(wantFailed)}; got != want {
			t.Errorf("dry run counts %v, want %v: %v", got, want, dry)
		}
		if dry["state"] != provisioning.Succeeded || dry["dry_run"] != true || num(t, dry, "rows_total") != 10 || num(t, dry, "rows_done") != 10 {
			t.Errorf("dry run job %v", dry)
		}
		if got := e.api.usernames(t, realm); !slices.Equal(got, []string{"existing"}) {
			t.Fatalf("a dry run changed the realm: %v", got)
		}

		j := e.api.importFile(t, realm, "", file)
		if got, want := counts(t, j), [4]int{2, 0, 1, len(wantFailed)}; got != want {
			t.Errorf("counts %v, want %v: %v", got, want, j)
		}
		if got := e.api.usernames(t, realm); !slices.Equal(got, []string{"alice", "existing", "zed"}) {
			t.Errorf("usernames %v", got)
		}
		members := e.api.listAll(t, "/realms/"+realm+"/groups/"+sales+":listMembers", "identities")
		if len(members) != 1 || obj(t, members[0], "traits")["username"] != "alice" || members[0]["display_name"] != "Alice" {
			t.Errorf("Sales members %v, want alice with display name Alice", members)
		}
		// The job's answer lists the failures; the report has them as CSV.
		var lines []int
		for _, f := range items(t, j, "failures") {
			line := num(t, f, "line")
			lines = append(lines, line)
			if !strings.Contains(str(t, f, "error"), wantFailed[line]) {
				t.Errorf("line %d: %q, want %q", line, f["error"], wantFailed[line])
			}
		}
		if len(lines) != len(wantFailed) {
			t.Errorf("failures on lines %v, want %d", lines, len(wantFailed))
		}
		report := e.api.download(t, "/realms/"+realm+"/import-jobs/"+str(t, j, "id")+":errors")
		if want := []string{"Email", "USERNAME", "Given_Name", "groups", "display_name", "Department", "error"}; !slices.Equal(report[0], want) {
			t.Errorf("report header %q, want %q", report[0], want)
		}
		if len(report) != 1+len(wantFailed) {
			t.Fatalf("report has %d rows, want %d: %q", len(report)-1, len(wantFailed), report)
		}
		for _, row := range report[1:] {
			var line int
			fmt.Sscanf(row[6], "line %d:", &line)
			if wantFailed[line] == "" || !strings.Contains(row[6], wantFailed[line]) {
				t.Errorf("report row %q", row)
			}
			if line == 3 && (row[1] != "bob" || row[3] != "Ghost") {
				t.Errorf("report row of line 3 %q, want the row's fields", row)
			}
		}

		t.Run("the same file again changes nothing", func(t *testing.T) {
			j := e.api.importFile(t, realm, "", file)
			if got, want := counts(t, j), [4]int{0, 0, 3, len(wantFailed)}; got != want {
				t.Errorf("counts %v, want %v", got, want)
			}
		})
		t.Run("update existing, create groups", func(t *testing.T) {
			file := "username,given_name,groups,status\nalice,Alicia,,\nzed,Zed,New Team;Sales,suspended\n"
			j := e.api.importFile(t, realm, "", file)
			if got, want := counts(t, j), [4]int{0, 0, 0, 2}; got != want {
				t.Errorf("without the options: counts %v, want %v", got, want)
			}
			j = e.api.importFile(t, realm, "?update_existing=true&create_groups=1", file)
			if got, want := counts(t, j), [4]int{0, 2, 0, 0}; got != want {
				t.Errorf("counts %v, want %v: %v", got, want, j)
			}
			ids := e.api.listAll(t, "/realms/"+realm+"/identities", "identities", "filter", `traits.username eq "zed"`)
			if len(ids) != 1 || ids[0]["status"] != "suspended" || obj(t, ids[0], "traits")["primary_email_address"] != "zed@example.com" {
				t.Errorf("zed %v: suspended, e-mail kept", ids)
			}
			groups := e.api.listAll(t, "/realms/"+realm+"/identities/"+str(t, ids[0], "id")+":listGroups", "groups")
			var names []string
			for _, g := range groups {
				names = append(names, str(t, g, "display_name"))
			}
			slices.Sort(names)
			if !slices.Equal(names, []string{"New Team", "Sales"}) {
				t.Errorf("zed's groups %v", names)
			}
		})
	})
}

func TestImportRefusals(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		realm := newRealm(t, e.api, "Refusals")
		resp := e.api.upload(t, realm, "", "username,shoe_size\na,42\n")
		assertInvalid(t, resp, "header", `unknown column "shoe_size"`)
		assertInvalid(t, e.api.upload(t, realm, "", "email\na@example.com\n"), "header", `the column "username" is required`)
		assertInvalid(t, e.api.upload(t, realm, "", ""), "file", "empty: the first line must name the columns")
		assertInvalid(t, e.api.upload(t, realm, "", "username\n"), "file", "no rows after the header")
		tooMany := "username\n" + strings.Repeat("a\n", provisioning.MaxRows+1)
		assertError(t, e.api.upload(t, realm, "", tooMany), http.StatusRequestEntityTooLarge, "payload_too_large",
			"the CSV file has more than 1,000,000 rows")
		// Nothing of the refused file is left: the realm takes a job at once.
		if j := e.api.importFile(t, realm, "", "username\nafter\n"); counts(t, j) != [4]int{1, 0, 0, 0} {
			t.Errorf("the import after a refused file: %v", j)
		}
		assertInvalid(t, e.api.upload(t, realm, "?dry_run=maybe", "username\na\n"), "dry_run", "must be true or false")
		assertInvalid(t, e.api.upload(t, realm, "?dryrun=true", "username\na\n"), "dryrun", "unknown parameter")
		assertNotFound(t, e.api.upload(t, "0000000000000000", "", "username\na\n"), "Realm", "0000000000000000", "realm not found")
		resp = e.api.upload(t, realm, "?send_binding_email=0000", "username,email\na,a@example.com\n")
		if resp.Status != http.StatusNotFound {
			t.Errorf("an unknown authenticator config: status %d: %s", resp.Status, resp.Body)
		}
		resp = e.api.withToken(e.node.Token(t, "identities:create identities:update identities:read groups:update")).
			upload(t, realm, "?create_groups=true", "username\na\n")
		assertBareError(t, resp, http.StatusForbidden, "forbidden", "forbidden")
		assertNotFound(t, e.api.do(t, "GET", "/realms/"+realm+"/import-jobs/0000000000000000", nil), "ImportJob", "0000000000000000", "import job not found")
		assertNotFound(t, e.api.do(t, "GET", "/realms/"+realm+"/import-jobs/0000000000000000:errors", nil), "ImportJob", "0000000000000000", "import job not found")
		assertInvalid(t, e.api.do(t, "GET", "/realms/"+realm+"/identities:export?filter=shoe_size+eq+1", nil), "filter", "")
	})
}

func TestExportCSV(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		realm := newRealm(t, e.api, "Export")
		g := newGroup(t, e.api, realm, "Admins")
		a := newIdentity(t, e.api, realm, "alice", "given_name", "=HYPERLINK(\"http://evil\")", "primary_email_address", "alice@example.com")
		newIdentity(t, e.api, realm, "bob", "family_name", "-2+3", "department", "@ops")
		newIdentity(t, e.api, realm, "carol", "title", "'+quoted")
		e.api.post(t, "/realms/"+realm+"/groups/"+g+":addMembers", map[string]any{"identity_ids": []string{str(t, a, "id")}})

		rows := e.api.download(t, "/realms/"+realm+"/identities:export")
		if !slices.Equal(rows[0], provisioning.ExportColumns) {
			t.Errorf("header %q", rows[0])
		}
		col := map[string]int{}
		for i, c := range rows[0] {
			col[c] = i
		}
		byName := map[string][]string{}
		for _, r := range rows[1:] {
			byName[r[col["username"]]] = r
		}
		if len(rows) != 4 || len(byName) != 3 {
			t.Fatalf("rows %q", rows)
		}
		for _, c := range []struct{ user, column, want string }{
			{"alice", "given_name", "'=HYPERLINK(\"http://evil\")"},
			{"alice", "email", "alice@example.com"},
			{"alice", "groups", "Admins"},
			{"alice", "display_name", "Identity alice"},
			{"alice", "status", "active"},
			{"bob", "family_name", "'-2+3"},
			{"bob", "department", "'@ops"},
			{"carol", "title", "''+quoted"},
		} {
			if got := byName[c.user][col[c.column]]; got != c.want {
				t.Errorf("%s %s: %q, want %q", c.user, c.column, got, c.want)
			}
		}
		filtered := e.api.download(t, "/realms/"+realm+"/identities:export?filter="+strings.ReplaceAll(`traits.username eq "bob"`, " ", "+"))
		if len(filtered) != 2 || filtered[1][col["username"]] != "bob" {
			t.Errorf("filtered export %q", filtered)
		}

		// An export imports back unchanged, neutralized cells included.
		var b strings.Builder
		w := csv.NewWriter(&b)
		w.WriteAll(rows)
		j := e.api.importFile(t, realm, "?update_existing=true", b.String())
		if got, want := counts(t, j), [4]int{0, 0, 3, 0}; got != want {
			t.Errorf("re-import of the export: counts %v, want %v: %v", got, want, j)
		}
	})
}

// TestImportExportPages imports a file of more than one batch and exports
// it in more than one page: a username of the first batch repeated in the
// second fails with the line of its first row, and one of an identity made
// before the import fails as taken.
func TestImportExportPages(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		realm := newRealm(t, e.api, "Pages")
		newGroup(t, e.api, realm, "Staff")
		newIdentity(t, e.api, realm, "existing")
		const rows = 6000
		var file strings.Builder
		file.WriteString("username,display_name,groups\n")
		want := map[string]string{"existing": ""} // username → groups in the export
		for i := range rows {
			name, groups := fmt.Sprintf("user%05d", i), ""
			switch i {
			case 5500:
				name = "USER00000" // line 5502 repeats line 2
			case 5600:
				name = "existing" // line 5602
			default:
				if i%1000 == 0 {
					groups = "Staff"
				}
				want[name] = groups
			}
			fmt.Fprintf(&file, "%s,User %d,%s\n", name, i, groups)
		}
		j := e.api.importFile(t, realm, "", file.String())
		if got, want := counts(t, j), [4]int{rows - 2, 0, 0, 2}; got != want {
			t.Errorf("counts %v, want %v: %v", got, want, j)
		}
		fs := items(t, j, "failures")
		if len(fs) != 2 || num(t, fs[0], "line") != 5502 || str(t, fs[0], "error") != "username: repeats the username of line 2" ||
			num(t, fs[1], "line") != 5602 || !strings.Contains(str(t, fs[1], "error"), "an identity with this username exists") {
			t.Errorf("failures %v", fs)
		}
		exported := e.api.download(t, "/realms/"+realm+"/identities:export")
		col := map[string]int{}
		for i, c := range exported[0] {
			col[c] = i
		}
		got := map[string]string{}
		for _, r := range exported[1:] {
			got[r[col["username"]]] = r[col["groups"]]
		}
		if len(exported) != 1+len(want) || !maps.Equal(got, want) {
			t.Errorf("export has %d rows, %d usernames; want %d", len(exported)-1, len(got), len(want))
		}
	})
}

// TestImportResumes plays a node that died in the middle of a job: the
// first batch committed (its identities and the job's progress in one
// transaction), the job still leased to the dead node. The worker takes it
// over and goes on after that batch, without creating anything twice, and
// reads the file's chunks in turn: a username that repeats one of the
// first batch, in the last chunk, fails with the line of its first row.
func TestImportResumes(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		ctx := t.Context()
		realm := newRealm(t, e.api, "Resume")
		const rows, done = 4500, 2000 // done as if a batch of 2000 rows had committed
		var file strings.Builder
		file.WriteString("username,display_name\n")
		var first []directory.Identity
		var cuts []int // where the file's chunks end: within the first batch and after it
		for i := range rows {
			if i == 1000 || i == 3000 {
				cuts = append(cuts, file.Len())
			}
			name := fmt.Sprintf("user%05d", i)
			if i == rows-1 {
				name = "USER00007" // line 9
			}
			fmt.Fprintf(&file, "%s,User %d\n", name, i)
			if i < done {
				now := time.Now().UTC().Truncate(time.Microsecond)
				first = append(first, directory.Identity{ID: latchkey.NewID(), TenantID: e.tenant(), RealmID: realm,
					DisplayName: fmt.Sprintf("User %d", i), Status: directory.StatusActive, EnrollmentStatus: directory.Unenrolled,
					Traits:     directory.Traits{Type: directory.TraitsV0, Username: fmt.Sprintf("user%05d", i)},
					CreateTime: now, UpdateTime: now})
			}
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		j := provisioning.Job{ID: latchkey.NewID(), TenantID: e.tenant(), RealmID: realm, State: provisioning.Running,
			Columns: []string{"username", "display_name"}, RowsTotal: rows, RowsDone: done, Created: done,
			CreateTime: now, UpdateTime: now}
		st := e.node.Store.Provisioning()
		err := st.Update(ctx, func(tx provisioning.Tx) error {
			if err := tx.CreateIdentities(ctx, first); err != nil {
				return err
			}
			content, start := file.String(), 0
			for seq, end := range append(cuts, file.Len()) {
				if err := tx.AddImportChunk(ctx, j.ID, seq, []byte(content[start:end])); err != nil {
					return err
				}
				start = end
			}
			return tx.CreateImportJob(ctx, j)
		})
		if err != nil {
			t.Fatal(err)
		}
		e.node.ImportWorker.Wake()
		got := e.api.waitJob(t, realm, j.ID)
		if c, want := counts(t, got), [4]int{rows - 1, 0, 0, 1}; c != want || got["state"] != provisioning.Succeeded {
			t.Errorf("resumed job %v: counts %v, want %v", got, c, want)
		}
		fs := items(t, got, "failures")
		if len(fs) != 1 || num(t, fs[0], "line") != rows+1 || str(t, fs[0], "error") != "username: repeats the username of line 9" {
			t.Errorf("failures %v, want line %d repeating line 9", fs, rows+1)
		}
		list := e.api.list(t, "/realms/"+realm+"/identities")
		if n := num(t, list, "total_size"); n != rows-1 {
			t.Errorf("%d identities, want %d", n, rows-1)
		}
	})
}

// TestSlowUploadHoldsNoWriter: a CSV upload whose first 4 MB arrive at
// once and whose rest trickles in over a real TCP connection holds no write
// transaction: an identity is created meanwhile within seconds (SQLite has
// one writer; before uploads were spooled, the create waited for the
// upload), and the upload still succeeds once it ends.
func TestSlowUploadHoldsNoWriter(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		realm := newRealm(t, e.api, "Slow upload")
		u, _ := url.Parse(e.node.URL)
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		req, _ := http.NewRequest("POST", e.api.url("/realms/"+realm+"/identities:import"), nil)
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n",
			req.URL.RequestURI(), u.Host, e.api.token)
		part := func(s string) {
			if _, err := fmt.Fprintf(conn, "%x\r\n%s\r\n", len(s), s); err != nil {
				t.Error(err)
			}
		}
		part("username\n" + strings.Repeat("\n", 5<<20)) // more than a chunk of the stored file: blank lines, no rows
		stop, trickled := make(chan struct{}), make(chan int)
		go func() {
			n := 0
			defer func() { trickled <- n }()
			for tick := time.NewTicker(100 * time.Millisecond); ; {
				select {
				case <-stop:
					tick.Stop()
					return
				case <-tick.C:
					n++
					part(fmt.Sprintf("slow%d\n", n))
				}
			}
		}()

		time.Sleep(time.Second) // the server reads the first 5 MB in milliseconds; the rest trickles
		started := time.Now()
		quick := e.api
		quick.http = &http.Client{Timeout: 5 * time.Second}
		newIdentity(t, quick, realm, "meanwhile")
		if d := time.Since(started); d > 3*time.Second {
			t.Errorf("an identity created while an upload trickles took %v", d)
		}

		close(stop)
		rows := <-trickled
		part("")
		conn.SetReadDeadline(time.Now().Add(time.Minute))
		resp, err := http.ReadResponse(bufio.NewReader(conn), req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var j map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&j); err != nil || resp.StatusCode != http.StatusOK || num(t, j, "rows_total") != rows {
			t.Fatalf("the slow upload: %d %v (%v), want %d rows", resp.StatusCode, j, err, rows)
		}
		if j := e.api.waitJob(t, realm, str(t, j, "id")); counts(t, j) != [4]int{rows, 0, 0, 0} {
			t.Errorf("the slow upload's job %v", j)
		}
	})
}
