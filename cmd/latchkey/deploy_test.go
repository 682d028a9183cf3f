package main_test

// The deployment files under deploy/ and the Dockerfile cannot run here (no
// container runtime, no cluster, no systemd as PID 1): these tests check
// what can be checked. The binary they name is the one TestMain builds
// (with CGO_ENABLED=0: its RSA signatures go through crypto/rsa).

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const repoRoot = "../.."

// TestDockerfile: a multi-stage build of the binary whose last stage
// runs as a non-root user with the data dir on a volume, checked by
// `latchkey healthcheck`.
func TestDockerfile(t *testing.T) {
	f, err := os.Open(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stages []map[string]string // instruction → its arguments, per stage
	sc := bufio.NewScanner(f)
	var line string
	for sc.Scan() {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		if line += text; strings.HasSuffix(line, "\\") {
			line = strings.TrimSuffix(line, "\\") + " "
			continue
		}
		instr, args, _ := strings.Cut(line, " ")
		line = ""
		if instr == "FROM" {
			stages = append(stages, map[string]string{})
		}
		if len(stages) == 0 {
			t.Fatalf("%s before FROM", instr)
		}
		stages[len(stages)-1][instr] += args + "\n"
	}
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a build stage and a runtime stage", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]
	// The binary links glibc and loads libcrypto.so.3 (internal/fastrsa):
	// it is built with cgo on the Debian release whose distroless base
	// (glibc and OpenSSL 3) runs it.
	if !strings.Contains(build["RUN"], "CGO_ENABLED=1 go build") || !strings.Contains(build["RUN"], "./cmd/latchkey") {
		t.Errorf("the build stage does not build ./cmd/latchkey with cgo: %q", build["RUN"])
	}
	if !strings.Contains(build["FROM"], "-bookworm ") || !strings.Contains(final["FROM"], "/distroless/base-debian12") {
		t.Errorf("built on %q to run on %q, want Debian 12 (bookworm) and distroless base-debian12", build["FROM"], final["FROM"])
	}
	if user := strings.TrimSpace(final["USER"]); user == "" || user == "root" || strings.HasPrefix(user, "0") {
		t.Errorf("the image runs as %q, want a non-root user", user)
	}
	if !strings.Contains(final["VOLUME"], "/var/lib/latchkey") || !strings.Contains(final["ENV"], "LATCHKEY_DATA_DIR=/var/lib/latchkey") {
		t.Errorf("the data dir is not the volume: VOLUME %q, ENV %q", final["VOLUME"], final["ENV"])
	}
	if !strings.Contains(final["HEALTHCHECK"], `"healthcheck"`) {
		t.Errorf("HEALTHCHECK %q does not run latchkey healthcheck", final["HEALTHCHECK"])
	}
}

// TestHealthcheck: `latchkey healthcheck` succeeds while a node on --listen
// is ready and fails once it has stopped.
func TestHealthcheck(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	n := serve(t, addr, dir)
	mustRun(t, nil, "healthcheck", "--listen", addr, "--data-dir", dir)
	n.stop(t)
	if stderr := mustFail(t, nil, "healthcheck", "--listen", addr, "--data-dir", dir); !strings.Contains(stderr, "/readyz") {
		t.Fatalf("healthcheck of a stopped node: %s", stderr)
	}
}

// TestSystemdUnit: systemd-analyze verify finds nothing to say about the
// unit (with ExecStart pointing at the built binary).
func TestSystemdUnit(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	unit, err := os.ReadFile(filepath.Join(repoRoot, "deploy/systemd/latchkey.service"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "ExecStart=/usr/local/bin/latchkey serve") {
		t.Fatal("the unit does not run /usr/local/bin/latchkey serve")
	}
	path := filepath.Join(t.TempDir(), "latchkey.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(unit), "/usr/local/bin/latchkey", binary)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput()
	if err != nil || strings.Contains(string(out), "latchkey.service") {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestKubernetesManifests: every manifest parses; the Deployment probes
// /readyz and /healthz on the container's port, runs as non-root, and
// takes the master key and the database from the Secret's keys.
func TestKubernetesManifests(t *testing.T) {
	dir := filepath.Join(repoRoot, "deploy/kubernetes")
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s (%v)", dir, err)
	}
	docs := map[string]map[string]any{} // by kind
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		docs[doc["kind"].(string)] = doc
	}
	for _, r := range docs["Kustomization"]["resources"].([]any) {
		if _, err := os.Stat(filepath.Join(dir, r.(string))); err != nil {
			t.Errorf("kustomization: %v", err)
		}
	}
	secretKeys := docs["Secret"]["stringData"].(map[string]any)
	spec := docs["Deployment"]["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	if sc := spec["securityContext"].(map[string]any); sc["runAsNonRoot"] != true {
		t.Errorf("pod securityContext %v", sc)
	}
	c := spec["containers"].([]any)[0].(map[string]any)
	port := c["ports"].([]any)[0].(map[string]any)["name"]
	for probe, path := range map[string]string{"readinessProbe": "/readyz", "livenessProbe": "/healthz"} {
		get := c[probe].(map[string]any)["httpGet"].(map[string]any)
		if get["path"] != path || get["port"] != port {
			t.Errorf("%s: %v, want %s on port %v", probe, get, path, port)
		}
	}
	var fromSecret []string
	for _, e := range c["env"].([]any) {
		e := e.(map[string]any)
		from, ok := e["valueFrom"].(map[string]any)
		if !ok {
			continue
		}
		ref := from["secretKeyRef"].(map[string]any)
		if _, ok := secretKeys[ref["key"].(string)]; !ok && ref["optional"] != true {
			t.Errorf("%s: key %v is not in the Secret", e["name"], ref["key"])
		}
		fromSecret = append(fromSecret, e["name"].(string))
	}
	for _, v := range []string{"LATCHKEY_MASTER_KEY", "LATCHKEY_DATABASE"} {
		if !slices.Contains(fromSecret, v) {
			t.Errorf("%s does not come from the Secret", v)
		}
	}
}
