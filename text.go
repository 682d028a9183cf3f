package latchkey

import (
	"slices"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// TextProblem says why s is not acceptable text, or "" when it is. Every
// text that comes from outside must be valid UTF-8 without NUL or other
// control characters (C0, DEL, C1): PostgreSQL cannot store NUL, and the
// rest have no place in names, ids, filters or tokens. Multiline text (a
// JSON string, a form field) may also hold tabs and line breaks; fields
// with stricter rules (names) check those themselves.
func TextProblem(s string, multiline bool) string {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError && size == 1:
			return "is not valid UTF-8"
		case r == 0:
			return "contains a NUL character"
		case multiline && (r == '\t' || r == '\n' || r == '\r'):
		case unicode.IsControl(r):
			return "contains a control character"
		}
	}
	return ""
}

// JSONTextProblem finds the first string of v, a value decoded from JSON
// (maps, slices, strings, numbers), whose text or key TextProblem refuses
// as multiline text. It returns the string's path ("traits.username",
// "group_ids[2]") and the problem, or "", "" when every string is
// acceptable. Keys are visited in sorted order, so that the answer is stable.
func JSONTextProblem(v any) (field, problem string) {
	return jsonText(v, "")
}

func jsonText(v any, path string) (string, string) {
	switch v := v.(type) {
	case string:
		return path, TextProblem(v, true)
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			field := k
			if path != "" {
				field = path + "." + k
			}
			if p := TextProblem(k, false); p != "" {
				return field, "name " + p
			}
			if f, p := jsonText(v[k], field); p != "" {
				return f, p
			}
		}
	case []any:
		for i, e := range v {
			if f, p := jsonText(e, path+"["+strconv.Itoa(i)+"]"); p != "" {
				return f, p
			}
		}
	}
	return "", ""
}
