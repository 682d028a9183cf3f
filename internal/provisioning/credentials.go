package provisioning

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/passkey"
)

// CredentialRow is one passkey of a credentials file (`latchkey import
// --credentials`): the username of its identity and the passkey as
// passkey.ImportCredentials takes it, or why the row cannot be read.
type CredentialRow struct {
	Where      string // "line 3" of a CSV file, "credentials[2]" of a JSON one
	Username   string
	Credential passkey.PortableCredential
	Error      string
}

// CredentialColumns are the columns of a CSV credentials file; username
// and a key (public_key or jwk_json) are required. transports are
// separated by spaces or semicolons.
var CredentialColumns = []string{"username", "csr_type", "credential_id", "public_key", "jwk_json", "sign_count", "aaguid",
	"backup_eligible", "backup_state", "transports", "user_handle", "display_name", "create_time"}

// ReadCredentials reads a credentials file: JSON (an array of passkeys,
// or {"credentials": [...]}, each with its "username" beside the fields of
// passkey.PortableCredential) or CSV with a header of CredentialColumns.
// A row that cannot be read carries its Error; a file that cannot be read
// at all is an error.
func ReadCredentials(data []byte) ([]CredentialRow, error) {
	data = bytes.TrimPrefix(data, bom)
	if t := bytes.TrimSpace(data); len(t) > 0 && (t[0] == '[' || t[0] == '{') {
		return readCredentialsJSON(t)
	}
	return readCredentialsCSV(data)
}

func readCredentialsJSON(data []byte) ([]CredentialRow, error) {
	var entries []json.RawMessage
	if data[0] == '{' {
		var wrapped struct {
			Credentials []json.RawMessage `json:"credentials"`
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&wrapped); err != nil {
			return nil, fmt.Errorf(`not a JSON object {"credentials": [...]}: %w`, err)
		}
		entries = wrapped.Credentials
	} else if err := json.Unmarshal(data, &entries); err != nil {
		return nil, fmt.Errorf("not a JSON array of credentials: %w", err)
	}
	rows := make([]CredentialRow, len(entries))
	for i, raw := range entries {
		var e struct {
			Username string `json:"username"`
			passkey.PortableCredential
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		rows[i].Where = "credentials[" + strconv.Itoa(i) + "]"
		if err := dec.Decode(&e); err != nil {
			rows[i].Error = strings.TrimPrefix(err.Error(), "json: ")
			continue
		}
		rows[i].Username, rows[i].Credential = e.Username, e.PortableCredential
		if e.Username == "" {
			rows[i].Error = "username: empty string"
		}
	}
	return rows, nil
}

func readCredentialsCSV(data []byte) ([]CredentialRow, error) {
	r := newReader(data, 1)
	head, ok := r.next()
	if !ok || head.err != "" {
		return nil, fmt.Errorf("no CSV header: name the columns, e.g. %s", strings.Join(CredentialColumns[:4], ","))
	}
	col := map[string]int{}
	for i, name := range head.fields {
		name = strings.ToLower(strings.TrimSpace(name))
		switch {
		case !slices.Contains(CredentialColumns, name):
			return nil, fmt.Errorf("unknown column %q: the columns are %s", name, strings.Join(CredentialColumns, ", "))
		case col[name] != 0:
			return nil, fmt.Errorf("column %q twice", name)
		}
		col[name] = i + 1
	}
	if col["username"] == 0 {
		return nil, fmt.Errorf(`no "username" column`)
	}
	var rows []CredentialRow
	for rec, ok := r.next(); ok; rec, ok = r.next() {
		row := CredentialRow{Where: "line " + strconv.Itoa(rec.line), Error: rec.err}
		if row.Error == "" && len(rec.fields) != len(head.fields) {
			row.Error = fmt.Sprintf("%d fields, the header has %d", len(rec.fields), len(head.fields))
		}
		if row.Error == "" {
			row.Error = parseCredentialRecord(rec.fields, col, &row)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// parseCredentialRecord reads a CSV record into row and returns what is
// wrong with it, or "". Values are what the API takes, their checks the
// import's.
func parseCredentialRecord(fields []string, col map[string]int, row *CredentialRow) string {
	get := func(name string) string {
		if col[name] == 0 {
			return ""
		}
		return strings.TrimSpace(Unneutralize(fields[col[name]-1]))
	}
	p := &row.Credential
	row.Username = get("username")
	p.CSRType, p.CredentialID, p.PublicKey, p.JWKJSON = get("csr_type"), get("credential_id"), get("public_key"), get("jwk_json")
	p.AAGUID, p.UserHandle, p.DisplayName = get("aaguid"), get("user_handle"), get("display_name")
	p.Transports = strings.FieldsFunc(get("transports"), func(r rune) bool { return r == ' ' || r == ';' })
	if row.Username == "" {
		return "username: empty string"
	}
	if v := get("sign_count"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return "sign_count: not a number"
		}
		p.SignCount = n
	}
	for name, dst := range map[string]*bool{"backup_eligible": &p.BackupEligible, "backup_state": &p.BackupState} {
		if v := get(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return name + ": must be true or false"
			}
			*dst = b
		}
	}
	if v := get("create_time"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return "create_time: not an RFC 3339 time"
		}
		p.CreateTime = &t
	}
	return ""
}
