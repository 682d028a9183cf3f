package main_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/testenv"
)

// engineArgs returns the serve flags of an engine: none for SQLite, a fresh
// database for PostgreSQL (skipping without one).
func engineArgs(t *testing.T, engine string) []string {
	if engine == "postgres" {
		return []string{"--database", testenv.PostgresDSN(t)}
	}
	return nil
}

// TestImportExportCLI runs `latchkey import` and `latchkey export` against
// a running server, as the README shows them.
func TestImportExportCLI(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			dir := t.TempDir()
			n := serve(t, freeAddr(t), dir, engineArgs(t, engine)...)
			tenant := credentials(t, dir)["tenant_id"]
			realm := n.createRealm(t, n.token(t), tenant)
			file := filepath.Join(t.TempDir(), "users.csv")
			good := "username,email,given_name,groups\r\nalice,alice@example.com,=Alice,Staff\r\nbob,bob@example.com,Bob,\r\n"
			if err := os.WriteFile(file, []byte(good+"carol,not-an-email,Carol,\r\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			base := []string{"--data-dir", dir, "--realm", realm}

			stdout, stderr, err := run(t, nil, append([]string{"import", file, "--dry-run", "--create-groups"}, base...)...)
			if code := exitCode(err); code != 1 || !strings.Contains(stdout, "(dry run: nothing was changed): 3 rows: 2 created, 0 updated, 0 unchanged, 1 failed") ||
				!strings.Contains(stderr, "line 4: email: not a valid e-mail address") {
				t.Fatalf("dry run: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			report := filepath.Join(t.TempDir(), "errors.csv")
			stdout, stderr, err = run(t, nil, append([]string{"import", file, "--create-groups", "--errors-file", report}, base...)...)
			if code := exitCode(err); code != 1 || !strings.Contains(stdout, "3 rows: 2 created, 0 updated, 0 unchanged, 1 failed") {
				t.Fatalf("import: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			b, err := os.ReadFile(report)
			if err != nil {
				t.Fatal(err)
			}
			if want := "username,email,given_name,groups,error\ncarol,not-an-email,Carol,,line 4: email: not a valid e-mail address\n"; string(b) != want {
				t.Errorf("error report:\n%s\nwant:\n%s", b, want)
			}

			// The fixed rows import cleanly; the rest is unchanged.
			fixed := strings.Replace(string(b), "not-an-email", "carol@example.com", 1)
			if err := os.WriteFile(file, []byte(fixed), 0o600); err != nil {
				t.Fatal(err)
			}
			if out := mustRun(t, nil, append([]string{"import", file}, base...)...); !strings.Contains(out, "1 rows: 1 created, 0 updated, 0 unchanged, 0 failed") {
				t.Errorf("import of the fixed report: %s", out)
			}

			out := mustRun(t, nil, append([]string{"export"}, base...)...)
			rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
			if err != nil || len(rows) != 4 || rows[0][0] != "username" {
				t.Fatalf("export: %v\n%s", err, out)
			}
			if !strings.Contains(out, "\nalice,alice@example.com,alice,'=Alice,") {
				t.Errorf("alice's given name is not a neutralized formula:\n%s", out)
			}
			filtered := mustRun(t, nil, append([]string{"export", "--filter", `traits.username eq "bob"`}, base...)...)
			if lines := strings.Count(filtered, "\n"); lines != 2 || !strings.Contains(filtered, "\nbob,bob@example.com,") {
				t.Errorf("filtered export:\n%s", filtered)
			}
			if out := mustRun(t, nil, append([]string{"import", writeTemp(t, out)}, base...)...); !strings.Contains(out, "3 rows: 0 created, 0 updated, 3 unchanged, 0 failed") {
				t.Errorf("import of the export: %s", out)
			}
		})
	}
}

func exitCode(err error) int {
	if e, ok := err.(*exec.ExitError); ok {
		return e.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

func writeTemp(t *testing.T, content string) string {
	p := filepath.Join(t.TempDir(), "file.csv")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestImportBenchmark measures the import of LATCHKEY_BENCH_IMPORT_ROWS
// new identities and their export, through the CLI against a server
// process, on each engine; BENCHMARKS.md has the figures.
func TestImportBenchmark(t *testing.T) {
	rows, _ := strconv.Atoi(os.Getenv("LATCHKEY_BENCH_IMPORT_ROWS"))
	if rows <= 0 {
		t.Skip("set LATCHKEY_BENCH_IMPORT_ROWS (e.g. 1000000) to run")
	}
	var file bytes.Buffer
	file.WriteString("username,email,display_name,given_name,family_name,department\n")
	for i := range rows {
		fmt.Fprintf(&file, "user%07d,user%07d@example.com,User %d,Given%d,Family%d,Dept %d\n", i, i, i, i, i, i%50)
	}
	path := writeTemp(t, file.String())
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			dir := t.TempDir()
			n := serve(t, freeAddr(t), dir, engineArgs(t, engine)...)
			realm := n.createRealm(t, n.token(t), credentials(t, dir)["tenant_id"])
			base := []string{"--data-dir", dir, "--realm", realm}
			start := time.Now()
			out := runLong(t, append([]string{"import", path}, base...)...)
			importTime := time.Since(start)
			if !strings.Contains(out, fmt.Sprintf("%d created", rows)) {
				t.Fatalf("import: %s", out)
			}
			start = time.Now()
			out = runLong(t, append([]string{"export"}, base...)...)
			exportTime := time.Since(start)
			if got := strings.Count(out, "\n") - 1; got != rows {
				t.Fatalf("export has %d rows, want %d", got, rows)
			}
			status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", n.cmd.Process.Pid))
			var hwm string
			for line := range strings.SplitSeq(string(status), "\n") {
				if strings.HasPrefix(line, "VmHWM:") {
					hwm = strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:"))
				}
			}
			t.Logf("| %s | %d | %.1f s | %.0f rows/s | %.1f s | %.0f rows/s | %s |", engine, rows,
				importTime.Seconds(), float64(rows)/importTime.Seconds(), exportTime.Seconds(),
				float64(rows)/exportTime.Seconds(), hwm)
		})
	}
}

// runLong runs the binary for up to 10 minutes and requires success.
func runLong(t *testing.T, args ...string) string {
	cmd := exec.Command(binary, args...)
	cmd.Env = environ()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	done := time.AfterFunc(10*time.Minute, func() { cmd.Process.Kill() })
	defer done.Stop()
	if err := cmd.Run(); err != nil {
		t.Fatalf("latchkey %s: %v\n%s", strings.Join(args, " "), err, tail(errOut.String()))
	}
	return out.String()
}
