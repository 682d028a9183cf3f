package provisioning

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
)

func readAll(data string) []record {
	rd := newReader([]byte(data), 1)
	var out []record
	for r, ok := rd.next(); ok; r, ok = rd.next() {
		out = append(out, r)
	}
	return out
}

// readChunks splits data into chunks of up to size bytes and reads them
// one by one, as the worker does.
func readChunks(t *testing.T, data string, size int) (recs []record, chunks []string, err error) {
	sp := newSplitter(strings.NewReader(data), size)
	line := 1
	for {
		chunk, err := sp.next()
		if err != nil || chunk == nil {
			if err == nil && len(recs) != sp.records {
				t.Fatalf("size %d: %d records read, %d counted", size, len(recs), sp.records)
			}
			return recs, chunks, err
		}
		chunks = append(chunks, string(chunk))
		rd := newReader(chunk, line)
		for r, ok := rd.next(); ok; r, ok = rd.next() {
			recs = append(recs, r)
		}
		line += bytes.Count(chunk, []byte{'\n'})
	}
}

const messy = "\xEF\xBB\xBFUsername,Email\r\n" + // BOM, CRLF
	"alice,a@example.com\r\n" +
	"\"bob\nsmith\",b@example.com\n" + // a quoted field over two lines
	"carol,\"c@example.com\n" + // a quote left open: swallows nothing after its line
	"dave,d@example.com\n" +
	"\n" +
	"er\"in,e@example.com\n" + // a stray quote
	"frank,f@example.com"

func TestReaderLinesAndRecovery(t *testing.T) {
	got := readAll(messy)
	want := []record{
		{line: 1, fields: []string{"Username", "Email"}},
		{line: 2, fields: []string{"alice", "a@example.com"}},
		{line: 3, fields: []string{"bob\nsmith", "b@example.com"}},
		{line: 5, raw: `carol,"c@example.com`, err: "unreadable CSV: extraneous or missing \" in quoted-field"},
		{line: 6, fields: []string{"dave", "d@example.com"}},
		{line: 8, raw: `er"in,e@example.com`, err: "unreadable CSV: bare \" in non-quoted-field"},
		{line: 9, fields: []string{"frank", "f@example.com"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("records:\n got %+v\nwant %+v", got, want)
	}
}

// TestSplitter cuts a file into chunks of every size: the chunks are the
// file, and read one by one they give the file's records, as long as no
// record (with what reading it reads past it) is longer than a chunk:
// here from 26 bytes on.
func TestSplitter(t *testing.T) {
	whole := readAll(messy)
	for size := 1; size <= len(messy)+1; size++ {
		recs, chunks, err := readChunks(t, messy, size)
		if err != nil {
			if size >= 23 || !strings.Contains(err.Error(), "invalid") {
				t.Errorf("size %d: %v", size, err)
			}
			continue
		}
		if got := strings.Join(chunks, ""); got != strings.TrimPrefix(messy, string(bom)) {
			t.Errorf("size %d: chunks %q", size, chunks)
		}
		if size >= 26 && !reflect.DeepEqual(recs, whole) {
			t.Errorf("size %d: records\n got %+v\nwant %+v", size, recs, whole)
		}
	}
}

func TestHeader(t *testing.T) {
	h, err := parseHeader(record{line: 1, fields: []string{" EMAIL", "Username", "groups", "Department", "error"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"primary_email_address", "username", colGroups, "department", colError}; !reflect.DeepEqual(h.target, want) {
		t.Errorf("targets %q, want %q", h.target, want)
	}
	for _, tc := range []struct {
		fields []string
		want   string
	}{
		{[]string{"username", "shoe_size"}, `unknown column "shoe_size"`},
		{[]string{"username", "email", "primary_email_address"}, `column "primary_email_address" repeats column "email"`},
		{[]string{"email"}, `the column "username" is required`},
		{[]string{"username", "type"}, `unknown column "type"`},
	} {
		_, err := parseHeader(record{line: 1, fields: tc.fields})
		if err == nil || !strings.Contains(fmt.Sprint(err.(interface{ Error() string }).Error()), "invalid parameters") {
			t.Errorf("%q: error %v, want invalid parameters", tc.fields, err)
			continue
		}
		if got := (header{}).problem(err); !strings.Contains(got, tc.want) {
			t.Errorf("%q: %q, want it to say %q", tc.fields, got, tc.want)
		}
	}
}

func TestParseRow(t *testing.T) {
	h, err := parseHeader(record{fields: []string{"username", "display_name", "status", "groups", "given_name"}})
	if err != nil {
		t.Fatal(err)
	}
	r := h.parseRow(record{line: 4, fields: []string{" Alice ", "", "Suspended", "Sales; sales;;Ops ", "'=SUM(A1)"}})
	if r.err != "" || r.key != "alice" || r.status != "suspended" || r.traits.GivenName != "=SUM(A1)" ||
		!reflect.DeepEqual(r.groups, []string{"Sales", "Ops"}) {
		t.Errorf("row %+v", r)
	}
	if i := r.newIdentity(); i.DisplayName != "Alice" || i.Status != "suspended" {
		t.Errorf("identity %+v: the display name is the username when the names make none", i)
	}
	r.traits.GivenName, r.traits.FamilyName = "Alice", "Smith"
	if i := r.newIdentity(); i.DisplayName != "Alice Smith" {
		t.Errorf("identity %+v: display name from the given and family names", i)
	}
	for _, tc := range []struct {
		fields []string
		want   string
	}{
		{[]string{"a", "b"}, "has 2 fields, the header has 5"},
		{[]string{"a\xff", "", "", "", ""}, "username: not valid UTF-8"},
		{[]string{" ", "", "", "", ""}, "username: empty"},
	} {
		if got := h.parseRow(record{line: 2, fields: tc.fields}).err; !strings.Contains(got, tc.want) {
			t.Errorf("%q: %q, want %q", tc.fields, got, tc.want)
		}
	}
}

func TestNeutralize(t *testing.T) {
	for _, v := range []string{"=1+1", "+1", "-1", "@SUM(1)", "\tx", "\rx", "'=x", "''+x", "'plain", "plain", "", "a=b"} {
		n := Neutralize(v)
		if looksLikeFormula(v) && !strings.HasPrefix(n, "'") {
			t.Errorf("Neutralize(%q) = %q: still a formula", v, n)
		}
		if back := Unneutralize(n); back != v {
			t.Errorf("Unneutralize(Neutralize(%q)) = %q", v, back)
		}
	}
}

// FuzzReader checks the reader against encoding/csv: every record of a
// file that encoding/csv reads whole comes out the same, on its line; any
// input at all is read to its end without a panic, in order of lines.
func FuzzReader(f *testing.F) {
	for _, s := range []string{"a,b\n1,2\n", "a,\"b\nc\"\r\n\"x", "\"", "a\"b,c\nd", "\n\n,\n", "\xEF\xBB\xBFa\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got := readAll(string(data))
		last := 0
		for _, r := range got {
			if r.line <= last {
				t.Fatalf("line %d after line %d", r.line, last)
			}
			last = r.line
		}
		// Where encoding/csv reads the whole file, the records and lines agree.
		cr := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, bom)))
		cr.FieldsPerRecord = -1
		var want []record
		for {
			fields, err := cr.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				return
			}
			line, _ := cr.FieldPos(0)
			want = append(want, record{line: line, fields: fields})
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("records %+v, encoding/csv reads %+v", got, want)
		}
	})
}

// FuzzSplitter checks that any input splits into chunks that are the
// input, whose records are the ones counted, in order of lines.
func FuzzSplitter(f *testing.F) {
	f.Add([]byte(messy), uint8(16))
	f.Fuzz(func(t *testing.T, data []byte, size uint8) {
		recs, chunks, err := readChunks(t, string(data), int(size)+1)
		if err != nil {
			return // a line longer than a chunk
		}
		if got := strings.Join(chunks, ""); got != string(bytes.TrimPrefix(data, bom)) {
			t.Fatalf("chunks %q of %q", chunks, data)
		}
		last := 0
		for _, r := range recs {
			if r.line <= last {
				t.Fatalf("line %d after line %d", r.line, last)
			}
			last = r.line
		}
	})
}

// FuzzRows reads arbitrary files as an import does, header then rows: no
// text that is not acceptable (latchkey.TextProblem) survives into an
// identity that passes the directory's rules or into a group name.
// Seeds: testdata/fuzz/FuzzRows.
func FuzzRows(f *testing.F) {
	f.Add([]byte("username,given_name,groups,display_name\nalice,Alice,Sales;Ops,Alice A\n"))
	f.Add([]byte("username,title\nnul\x00,x\nctl,a\x1bb\nc1,\u0085\n"))
	f.Add([]byte("username,groups\nbob,\"Team\x00\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rd := newReader(data, 1)
		rec, ok := rd.next()
		if !ok {
			return
		}
		h, err := parseHeader(rec)
		if err != nil {
			return
		}
		for rec, ok := rd.next(); ok; rec, ok = rd.next() {
			r := h.parseRow(rec)
			if r.err != "" {
				continue
			}
			for _, g := range r.groups {
				if latchkey.TextProblem(g, true) != "" {
					t.Fatalf("group %q of %q", g, rec.fields)
				}
			}
			i, err := directory.NewIdentity("t", "r", r.newIdentity(), time.Time{}, nil)
			if err != nil {
				continue
			}
			for _, name := range directory.TraitNames {
				if v := *i.Traits.Field(name); latchkey.TextProblem(v, true) != "" {
					t.Fatalf("trait %s %q of %q", name, v, rec.fields)
				}
			}
			if latchkey.TextProblem(i.DisplayName, false) != "" {
				t.Fatalf("display name %q of %q", i.DisplayName, rec.fields)
			}
		}
	})
}
