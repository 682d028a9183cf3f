package sqlstore

import (
	"encoding/json"
	"testing"

	"github.com/latchkey/latchkey/internal/directory"
)

// decodeTraits must give what json.Unmarshal gives, for anything stored.
func FuzzDecodeTraits(f *testing.F) {
	full := directory.Traits{Type: "user", Username: "alice", PrimaryEmailAddress: "a@example.com",
		GivenName: "Ålice", FamilyName: "O'Brien & <Co>", Title: "tab\there", Locale: "\xff"}
	b, _ := json.Marshal(full)
	for _, seed := range []string{
		string(b), `{}`, `{"type":"user"}`, `{"username":"a","username":"b"}`, `{"Username":"a"}`,
		`{"unknown":"x","username":"a"}`, `{"username":null}`, `{"username":1}`, `{"username":"a\u00e9"}`,
		`{"username":"a"`, `{"username":"a",}`, `{"username":"a"} `, ` {"username":"a"}`, `{"username" : "a"}`,
		"{\"username\":\"a\x01\"}", "{\"username\":\"\xff\"}", `{"username":"a"}x`, `[]`, `null`, ``, `{`, `{"`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var want, got directory.Traits
		wantErr := json.Unmarshal(data, &want)
		gotErr := decodeTraits(data, &got)
		if (wantErr == nil) != (gotErr == nil) || (wantErr == nil && got != want) {
			t.Fatalf("%q: got %+v, %v; json.Unmarshal gives %+v, %v", data, got, gotErr, want, wantErr)
		}
	})
}
