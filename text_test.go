package latchkey_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/latchkey/latchkey"
)

func TestTextProblem(t *testing.T) {
	for _, tc := range []struct {
		in               string
		single, multiple string // the problem as single-line and as multiline text
	}{
		{"", "", ""},
		{"Zoë 山田 🙂 {}<>;", "", ""},
		{"\uFFFD", "", ""}, // the replacement character itself is text
		{"a\x00b", "contains a NUL character", "contains a NUL character"},
		{"a\tb", "contains a control character", ""},
		{"a\r\nb", "contains a control character", ""},
		{"a\x1bb", "contains a control character", "contains a control character"},
		{"a\x7fb", "contains a control character", "contains a control character"},
		{"a\u0085b", "contains a control character", "contains a control character"},
		{"a\xffb", "is not valid UTF-8", "is not valid UTF-8"},
		{"\xed\xa0\x80", "is not valid UTF-8", "is not valid UTF-8"}, // a surrogate
	} {
		if got := latchkey.TextProblem(tc.in, false); got != tc.single {
			t.Errorf("TextProblem(%q, false) = %q, want %q", tc.in, got, tc.single)
		}
		if got := latchkey.TextProblem(tc.in, true); got != tc.multiple {
			t.Errorf("TextProblem(%q, true) = %q, want %q", tc.in, got, tc.multiple)
		}
	}
}

func TestJSONTextProblem(t *testing.T) {
	for _, tc := range []struct{ body, field, problem string }{
		{`{"a":"x","b":["y",{"c":"z\n"}],"n":1,"t":true,"z":null}`, "", ""},
		{`{"a":"x","b":["y",{"c":"z\u0000"}]}`, "b[1].c", "contains a NUL character"},
		{`{"b":"\u0001","a":"\u0000"}`, "a", "contains a NUL character"}, // keys in order
		{`{"a\u0000":"x"}`, "a\x00", "name contains a NUL character"},
		{`["\u007f"]`, "[0]", "contains a control character"},
	} {
		var v any
		if err := json.Unmarshal([]byte(tc.body), &v); err != nil {
			t.Fatal(err)
		}
		field, problem := latchkey.JSONTextProblem(v)
		if field != tc.field || problem != tc.problem {
			t.Errorf("%s: %q %q, want %q %q", tc.body, field, problem, tc.field, tc.problem)
		}
	}
}

// FuzzJSONTextProblem decodes arbitrary JSON: when JSONTextProblem finds
// nothing, no string of the document holds a NUL or a C0 control character
// other than tab and line breaks (encoding/json escapes exactly those as
// \u00XX).
// Seeds: testdata/fuzz/FuzzJSONTextProblem.
func FuzzJSONTextProblem(f *testing.F) {
	for _, s := range []string{`{"a":"b"}`, `{"a":["\u0000"]}`, `{"\u0001":1}`, `"\t\n"`, `{"a":{"b":"\u001f"}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var v any
		if json.Unmarshal([]byte(body), &v) != nil {
			return
		}
		field, problem := latchkey.JSONTextProblem(v)
		var out bytes.Buffer
		enc := json.NewEncoder(&out)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		escaped := bytes.Contains(bytes.ReplaceAll(out.Bytes(), []byte(`\\`), nil), []byte(`\u00`))
		if problem == "" && escaped {
			t.Fatalf("%q: no problem found in %s", body, out.Bytes())
		}
		if problem == "" && field != "" {
			t.Fatalf("%q: field %q without a problem", body, field)
		}
	})
}
