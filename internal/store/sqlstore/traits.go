package sqlstore

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/latchkey/latchkey/internal/directory"
)

// decodeTraits is json.Unmarshal of a traits column into a zero Traits,
// without reflection for what identityRow stores: a flat object of known
// keys and strings without escapes. Anything else is left to
// json.Unmarshal. (It was a fifth of the CPU time of an export.)
func decodeTraits(data []byte, t *directory.Traits) error {
	*t = directory.Traits{}
	if !decodePlainTraits(data, t) {
		*t = directory.Traits{}
		return json.Unmarshal(data, t)
	}
	return nil
}

// decodePlainTraits decodes data as json.Unmarshal would, or reports that
// it cannot.
func decodePlainTraits(data []byte, t *directory.Traits) bool {
	if len(data) < 2 || data[0] != '{' {
		return false
	}
	s := data[1:]
	if len(s) == 1 && s[0] == '}' {
		return true
	}
	for {
		key, rest, ok := plainString(s)
		if !ok || len(rest) == 0 || rest[0] != ':' {
			return false
		}
		value, rest, ok := plainString(rest[1:])
		if !ok || len(rest) == 0 {
			return false
		}
		f := t.Field(string(key))
		if f == nil { // json.Unmarshal matches keys in any case
			return false
		}
		*f = string(value)
		switch {
		case rest[0] == ',':
			s = rest[1:]
		case len(rest) == 1 && rest[0] == '}':
			return true
		default:
			return false
		}
	}
}

// plainString returns the contents of the JSON string that s starts with
// and what follows it, when the string has no escape, no control character
// and only valid UTF-8 (which json.Unmarshal would replace).
func plainString(s []byte) (contents, rest []byte, ok bool) {
	if len(s) == 0 || s[0] != '"' {
		return nil, nil, false
	}
	end := bytes.IndexByte(s[1:], '"')
	if end < 0 {
		return nil, nil, false
	}
	contents = s[1 : 1+end]
	for _, c := range contents {
		if c == '\\' || c < 0x20 {
			return nil, nil, false
		}
	}
	return contents, s[2+end:], utf8.Valid(contents)
}
