package provisioning

import (
	"slices"
	"testing"
	"time"
)

// TestReadCredentialsCSV: a CSV credentials file is read column by column
// into the import's form; a bad row carries why, on its line, and the
// rows after it are read.
func TestReadCredentialsCSV(t *testing.T) {
	file := "\xEF\xBB\xBFusername,credential_id,public_key,sign_count,aaguid,backup_eligible,backup_state,transports,create_time,display_name\r\n" +
		"ada,Y3JlZA,cGs,41,ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4,true,TRUE,internal;hybrid,2026-01-02T03:04:05Z,'=Phone\r\n" +
		"bo,Y3JlZA,cGs,many,,,,,,\r\n" +
		",Y3JlZA,cGs,,,,,,,\r\n" +
		"cy,Y3JlZA,cGs,,,,maybe,,,\r\n" +
		"dee,Y3JlZA\r\n" +
		"eve,Y3JlZA,cGs,,,,,usb nfc,yesterday,\r\n" +
		"fay,Y3JlZA,cGs,,,,,,,\r\n"
	rows, err := ReadCredentials([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ where, username, err string }{
		{"line 2", "ada", ""},
		{"line 3", "bo", "sign_count: not a number"},
		{"line 4", "", "username: empty string"},
		{"line 5", "cy", "backup_state: must be true or false"},
		{"line 6", "", "2 fields, the header has 10"},
		{"line 7", "eve", "create_time: not an RFC 3339 time"},
		{"line 8", "fay", ""},
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d: %+v", len(rows), len(want), rows)
	}
	for i, w := range want {
		if rows[i].Where != w.where || rows[i].Error != w.err || (w.err == "" && rows[i].Username != w.username) {
			t.Errorf("row %d: %s %q %q, want %s %q %q", i, rows[i].Where, rows[i].Username, rows[i].Error, w.where, w.username, w.err)
		}
	}
	p := rows[0].Credential
	if p.CredentialID != "Y3JlZA" || p.PublicKey != "cGs" || p.SignCount != 41 || p.AAGUID != "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4" ||
		!p.BackupEligible || !p.BackupState || !slices.Equal(p.Transports, []string{"internal", "hybrid"}) ||
		p.CreateTime == nil || !p.CreateTime.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) || p.DisplayName != "=Phone" {
		t.Errorf("ada's passkey: %+v", p)
	}

	for name, bad := range map[string]string{
		"an unknown column": "username,pin\r\nada,1234\r\n",
		"a column twice":    "username,aaguid,aaguid\r\n",
		"no username":       "credential_id,public_key\r\nY3JlZA,cGs\r\n",
		"nothing":           "",
	} {
		if _, err := ReadCredentials([]byte(bad)); err == nil {
			t.Errorf("%s: read", name)
		}
	}
}

// TestReadCredentialsJSON: a JSON file is an array of passkeys, or
// {"credentials": [...]} as the export gives it, each with a username.
func TestReadCredentialsJSON(t *testing.T) {
	for _, file := range []string{
		`[{"username":"ada","credential_id":"Y3JlZA","public_key":"cGs","sign_count":3},{"credential_id":"x"},{"username":"bo","pin":1}]`,
		` {"credentials":[{"username":"ada","credential_id":"Y3JlZA","public_key":"cGs","sign_count":3},{"credential_id":"x"},{"username":"bo","pin":1}]}`,
	} {
		rows, err := ReadCredentials([]byte(file))
		if err != nil || len(rows) != 3 {
			t.Fatalf("%s: %v %+v", file, err, rows)
		}
		if r := rows[0]; r.Where != "credentials[0]" || r.Username != "ada" || r.Credential.SignCount != 3 || r.Credential.PublicKey != "cGs" || r.Error != "" {
			t.Errorf("first: %+v", r)
		}
		if rows[1].Error != "username: empty string" || rows[2].Error != `unknown field "pin"` {
			t.Errorf("bad rows: %q, %q", rows[1].Error, rows[2].Error)
		}
	}
	for _, bad := range []string{`{"passkeys":[]}`, `[1,`} {
		if _, err := ReadCredentials([]byte(bad)); err == nil {
			t.Errorf("%s: read", bad)
		}
	}
}
