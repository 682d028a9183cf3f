package provisioning

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"strings"
)

// bom is the UTF-8 byte order mark that spreadsheet programs put first.
var bom = []byte("\xEF\xBB\xBF")

// record is one CSV record of a file: its first line and its fields, or,
// when it cannot be read, its line, its raw text and why.
type record struct {
	line   int
	fields []string
	raw    string // the unreadable text, for the error report
	err    string // why the record could not be read
}

// reader reads the records of a file, or of a chunk of one, held in
// memory. Unlike a plain csv.Reader it survives a malformed record (a
// quote left open, a stray quote): that record is reported on its line and
// reading goes on at the next line, so one bad row does not swallow the
// rest of the file.
type reader struct {
	data     []byte
	r        *csv.Reader // reads data[base:]; nil until the next record is read
	base     int         // where r started
	baseLine int         // the line of data[base]
	off      int         // r's input offset after the last record
	line     int         // the line of data[base+off]
	reach    int         // how far into data reading went: past the last record after a bad one
}

// newReader reads data, a file from line line on; at line 1 a byte order
// mark is skipped.
func newReader(data []byte, line int) *reader {
	if line == 1 {
		data = bytes.TrimPrefix(data, bom)
	}
	return &reader{data: data, baseLine: line}
}

// pos is where in data the next record starts.
func (c *reader) pos() int {
	if c.r == nil {
		return c.base
	}
	return c.base + c.off
}

// next returns the next record, or false at the end of the file.
func (c *reader) next() (record, bool) {
	if c.r == nil {
		if c.base >= len(c.data) {
			return record{}, false
		}
		c.r = csv.NewReader(bytes.NewReader(c.data[c.base:]))
		c.r.FieldsPerRecord = -1 // ragged rows are reported per row, not as read errors
		c.off, c.line = 0, c.baseLine
	}
	fields, err := c.r.Read()
	c.reach = max(c.reach, c.base+int(c.r.InputOffset()))
	if err == io.EOF {
		return record{}, false
	}
	start := c.base + c.off
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return c.skipBad(start, c.baseLine+pe.StartLine-1, pe.Err), true
	}
	if err != nil { // a bytes.Reader fails only with EOF
		return record{line: c.line, err: err.Error()}, false
	}
	fieldLine, _ := c.r.FieldPos(0)
	end := c.base + int(c.r.InputOffset())
	c.line += bytes.Count(c.data[start:end], []byte{'\n'})
	c.off = end - c.base
	return record{line: c.baseLine + fieldLine - 1, fields: fields}, true
}

// skipBad reports the record starting on line bad, which could not be read,
// and makes reading resume at the line after it. start is where the
// reader's input began for this record, on line c.line.
func (c *reader) skipBad(start, bad int, cause error) record {
	pos := start
	for l := c.line; l < bad; l++ {
		pos += bytes.IndexByte(c.data[pos:], '\n') + 1 // the csv reader saw these newlines
	}
	end := len(c.data)
	if i := bytes.IndexByte(c.data[pos:], '\n'); i >= 0 {
		end = pos + i + 1
	}
	raw := strings.TrimRight(string(c.data[pos:end]), "\r\n")
	c.base, c.baseLine, c.r = end, bad+1, nil
	return record{line: bad, raw: raw, err: "unreadable CSV: " + cause.Error()}
}

// formulaStart are the first characters that make a spreadsheet read a
// cell as a formula (OWASP "CSV injection"), "\r" included.
const formulaStart = "=+-@\t\r"

// looksLikeFormula reports whether v, after any leading apostrophes, starts
// like a formula.
func looksLikeFormula(v string) bool {
	v = strings.TrimLeft(v, "'")
	return v != "" && strings.IndexByte(formulaStart, v[0]) >= 0
}

// Neutralize returns v as an exported cell: a value a spreadsheet would run
// as a formula gets a leading apostrophe, which spreadsheets show as text.
// Unneutralize undoes it exactly, so an export imports back unchanged.
func Neutralize(v string) string {
	if looksLikeFormula(v) {
		return "'" + v
	}
	return v
}

// Unneutralize undoes Neutralize on an imported cell.
func Unneutralize(v string) string {
	if strings.HasPrefix(v, "'") && looksLikeFormula(v) {
		return v[1:]
	}
	return v
}

// encodeRecord returns fields as one CSV line, without its newline.
func encodeRecord(fields []string) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(fields)
	w.Flush()
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'})
}
