package latchkey_test

import (
	"encoding/json"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/latchkey/latchkey"

// listedPackage is what go list tells of a package of the module.
type listedPackage struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	Imports    []string
	Deps       []string
}

// TestImportRules: every package's doc comment says what it must not
// import ("It must not import HTTP packages, storage engines or oauth.")
// or who alone imports it ("Only tests import it."), and go list -deps
// shows that the code keeps to it. A package doc that names something
// the rules do not know fails too, so that a sentence cannot silently stop
// being checked.
func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []listedPackage
	for dec := json.NewDecoder(strings.NewReader(string(out))); dec.More(); {
		var p listedPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	docs := map[string]string{}
	var known []string
	for _, p := range pkgs {
		docs[p.ImportPath] = packageDoc(t, p)
		known = append(known, p.ImportPath)
	}
	testOnly := func(path string) bool { return onlyImporters(docs[path]) == "tests" }
	for _, p := range pkgs {
		doc := docs[p.ImportPath]
		for _, phrase := range mustNotImport(doc) {
			forbidden, direct, ok := forbiddenBy(phrase, p.ImportPath, known)
			if !ok {
				t.Errorf("%s: the doc comment forbids %q, which this test does not know", p.ImportPath, phrase)
				continue
			}
			for _, dep := range p.Deps {
				if forbidden(dep) {
					t.Errorf("%s imports %s (directly or not), which its doc comment forbids (%q)", p.ImportPath, dep, phrase)
				}
			}
			for _, imp := range p.Imports {
				if slices.Contains(direct, imp) {
					t.Errorf("%s imports %s, which its doc comment forbids (%q)", p.ImportPath, imp, phrase)
				}
			}
		}
		who := onlyImporters(doc)
		if who == "" {
			continue
		}
		for _, q := range pkgs {
			if !slices.Contains(q.Deps, p.ImportPath) || testOnly(q.ImportPath) {
				continue
			}
			if who == "tests" || !strings.HasPrefix(q.ImportPath, module+"/cmd/") {
				t.Errorf("%s imports %s, which only %s may import", q.ImportPath, p.ImportPath, who)
			}
		}
	}
}

// packageDoc is the package's doc comment, from the file that has one.
func packageDoc(t *testing.T, p listedPackage) string {
	for _, name := range p.GoFiles {
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(p.Dir, name), nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		if f.Doc != nil {
			return strings.Join(strings.Fields(f.Doc.Text()), " ")
		}
	}
	t.Errorf("%s has no doc comment", p.ImportPath)
	return ""
}

var (
	mustNotSentence = regexp.MustCompile(`(?i)must not import ([^.;:]+)`)
	onlySentence    = regexp.MustCompile(`Only (tests|cmd and tests) imports? it`)
	listSeparators  = regexp.MustCompile(`, | or | and `)
)

// mustNotImport returns the things a doc comment forbids, one phrase each.
func mustNotImport(doc string) []string {
	var phrases []string
	for _, m := range mustNotSentence.FindAllStringSubmatch(doc, -1) {
		for _, phrase := range listSeparators.Split(m[1], -1) {
			if phrase = strings.TrimSpace(phrase); phrase != "" {
				phrases = append(phrases, phrase)
			}
		}
	}
	return phrases
}

// onlyImporters is who alone may import a package: "tests", "cmd and
// tests", or "" when the doc does not say.
func onlyImporters(doc string) string {
	if m := onlySentence.FindStringSubmatch(doc); m != nil {
		return m[1]
	}
	return ""
}

func internal(names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = module + "/internal/" + n
	}
	return out
}

var (
	httpPackages   = internal("httpapi", "scim", "console", "authenticator", "httpx")
	storageEngines = internal("store/sqlstore", "store/sqlite", "store/postgres")
	domainPackages = internal("audit", "delivery", "directory", "mail", "oauth", "otp", "passkey", "policy", "provisioning", "session", "sso", "webhook")
)

// forbiddenBy returns what a phrase of self's doc comment forbids: module
// packages (checked against everything self depends on) and standard
// packages (checked against its own imports only: the libraries it uses
// may need them). ok is false for a phrase it does not know; known lists
// the module's packages.
func forbiddenBy(phrase, self string, known []string) (forbidden func(dep string) bool, direct []string, ok bool) {
	among := func(list []string) func(string) bool {
		return func(dep string) bool { return dep != self && slices.Contains(list, dep) }
	}
	switch {
	case phrase == "HTTP packages":
		return among(httpPackages), []string{"net/http"}, true
	case phrase == "storage engines", phrase == "any storage engine":
		return among(storageEngines), nil, true
	case phrase == "other domain packages":
		return among(domainPackages), nil, true
	case strings.HasPrefix(phrase, "other Latchkey packages"):
		but := strings.TrimPrefix(strings.TrimPrefix(phrase, "other Latchkey packages"), " but ")
		allowed := internal(strings.TrimPrefix(but, "internal/"))[0]
		if but != "" && !slices.Contains(known, allowed) {
			return nil, nil, false
		}
		return func(dep string) bool {
			return dep != self && dep != allowed && (dep == module || strings.HasPrefix(dep, module+"/"))
		}, nil, true
	}
	named := internal(strings.TrimPrefix(phrase, "internal/"))
	if !slices.Contains(known, named[0]) {
		return nil, nil, false
	}
	return among(named), nil, true
}
