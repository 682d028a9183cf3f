package testenv

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// StartNodeJS runs script of the npm project dir (a testdata directory
// where module must be installed) in Node.js, with env added to the
// environment, as the tests' third-party clients talk: a line of JSON at a
// time each way. It returns the script's stdin and a reader of its next
// line; the process ends with the test.
func StartNodeJS(t testing.TB, dir, script, module string, env ...string) (io.Writer, func() map[string]any) {
	t.Helper()
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		Unavailable(t, "Node.js is not installed (apt-get install nodejs npm)")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", module)); err != nil {
		Unavailable(t, module+" is not installed: run npm ci --prefix "+dir)
	}
	cmd := exec.Command("node", filepath.Join(dir, script))
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); cmd.Wait() })
	lines := bufio.NewScanner(out)
	lines.Buffer(nil, 1<<20) // an answer may carry tokens
	return in, func() map[string]any {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("%s said nothing (%v)", script, lines.Err())
		}
		var m map[string]any
		if err := json.Unmarshal(lines.Bytes(), &m); err != nil {
			t.Fatalf("%s: %s", script, lines.Bytes())
		}
		return m
	}
}
