package oauth

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestCheckAuthParams(t *testing.T) {
	base := AuthParams{RedirectURI: "https://app.example/cb", State: "s"}
	for _, c := range []struct {
		name     string
		edit     func(*AuthParams)
		want     string
		formPost bool
	}{
		{"nothing asked", func(*AuthParams) {}, "", false},
		{"response_mode query", func(p *AuthParams) { p.ResponseMode = "query" }, "", false},
		{"response_mode form_post", func(p *AuthParams) { p.ResponseMode = "form_post" }, "", false},
		{"response_mode fragment, answered in the query", func(p *AuthParams) { p.ResponseMode = "fragment" }, "redirect:invalid_request", false},
		{"a request object", func(p *AuthParams) { p.Request = "eyJhbGciOiJub25lIn0.e30." }, "redirect:request_not_supported", false},
		{"a request_uri", func(p *AuthParams) { p.RequestURI = "https://app.example/r" }, "redirect:request_uri_not_supported", false},
		{"a request object, answered by form_post", func(p *AuthParams) { p.Request, p.ResponseMode = "x", "form_post" }, "redirect:request_not_supported", true},
	} {
		p := base
		c.edit(&p)
		err := checkAuthParams(p)
		if got := errorCode(err); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
		if re, ok := err.(*RedirectError); ok && (re.FormPost != c.formPost || re.RedirectURI != base.RedirectURI ||
			!strings.HasPrefix(re.URL, base.RedirectURI+"?") || !strings.Contains(re.URL, "state=s")) {
			t.Errorf("%s: %+v", c.name, re)
		}
	}
}

func TestFormFields(t *testing.T) {
	got := FormFields("https://app.example/cb?tenant=a", "https://app.example/cb?code=c&state=s&tenant=a")
	if want := (url.Values{"code": {"c"}, "state": {"s"}}); got.Encode() != want.Encode() {
		t.Errorf("FormFields: %v, want %v", got, want)
	}
}

// TestSafeDescription: whatever a description holds (a policy reason names
// a group), what the client reads is in RFC 6749 §5.2's characters, in
// JSON and in a redirect.
func TestSafeDescription(t *testing.T) {
	raw := `rule 1 (deny) names its group "Ops" \ Équipe` + "\n"
	want := `rule 1 (deny) names its group 'Ops' / ?quipe?`
	if got := safeDescription(raw); got != want {
		t.Errorf("safeDescription: %q, want %q", got, want)
	}
	b, _ := json.Marshal(&Error{"access_denied", raw})
	var back Error
	if json.Unmarshal(b, &back) != nil || back.Description != want || back.Code != "access_denied" {
		t.Errorf("JSON %s", b)
	}
	re := redirectError(AuthParams{RedirectURI: "https://app.example/cb"}, "access_denied", raw).(*RedirectError)
	u, _ := url.Parse(re.URL)
	if u.Query().Get("error_description") != want {
		t.Errorf("redirect %s", re.URL)
	}
}

// TestErrorDescriptionsHaveNoQuotes walks every OAuth error that the OP
// packages write and checks that the text of its description holds only
// what error_description may (no quote, backslash or non-ASCII), and is not
// built with strconv.Quote or %q.
func TestErrorDescriptionsHaveNoQuotes(t *testing.T) {
	var files []string
	for _, dir := range []string{".", "../authenticator", "../httpapi", "../httpx"} {
		fs, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			if !strings.HasSuffix(f, "_test.go") {
				files = append(files, f)
			}
		}
	}
	fset := token.NewFileSet()
	seen := 0
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			var desc ast.Expr
			switch n := n.(type) {
			case *ast.CompositeLit:
				if !isErrorType(n.Type) {
					return true
				}
				for i, e := range n.Elts {
					if kv, ok := e.(*ast.KeyValueExpr); ok {
						if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Description" {
							desc = kv.Value
						}
					} else if i == 1 {
						desc = e
					}
				}
			case *ast.CallExpr:
				if id, ok := n.Fun.(*ast.Ident); ok && id.Name == "redirectError" && len(n.Args) == 3 {
					desc = n.Args[2]
				}
			}
			if desc == nil {
				return true
			}
			seen++
			ast.Inspect(desc, func(d ast.Node) bool {
				switch d := d.(type) {
				case *ast.BasicLit:
					if s, err := strconv.Unquote(d.Value); d.Kind == token.STRING && (err != nil || safeDescription(s) != s || strings.Contains(s, "%q")) {
						t.Errorf("%s: error_description text %s", fset.Position(d.Pos()), d.Value)
					}
				case *ast.SelectorExpr:
					if d.Sel.Name == "Quote" {
						t.Errorf("%s: error_description built with strconv.Quote", fset.Position(d.Pos()))
					}
				}
				return true
			})
			return true
		})
	}
	if seen < 30 {
		t.Errorf("found %d error descriptions; the walk misses them", seen)
	}
}

// isErrorType reports whether a composite literal's type is oauth.Error.
func isErrorType(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name == "Error"
	case *ast.SelectorExpr:
		x, ok := e.X.(*ast.Ident)
		return ok && x.Name == "oauth" && e.Sel.Name == "Error"
	}
	return false
}
