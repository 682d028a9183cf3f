package provisioning

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/latchkey/latchkey"
)

// chunkSize is the size of the parts that an uploaded file is stored in:
// the upload and the worker hold one of them at a time, whatever the size
// of the file.
const chunkSize = 4 << 20

var errUnreadable = latchkey.Errorf(latchkey.CodeBadRequest, "the CSV file could not be read to its end")

// splitter cuts a file, as it is read, into chunks that end between
// records, and counts the records. Each chunk read alone (newReader, from
// the line after the previous chunk's) gives the records that reading the
// whole file gives, except around a record longer than a chunk (a quote
// left open far from its end): the chunk is then cut after its last line,
// and reading it alone is what counts.
type splitter struct {
	src     io.Reader
	size    int    // of a chunk
	buf     []byte // the chunk returned last and the rest
	rest    []byte // of buf, read but in no chunk yet
	line    int    // the line of rest[0]
	read    int64  // bytes read from src
	eof     bool
	records int    // records in the chunks so far, the header included
	first   record // the file's first record, once records > 0
}

func newSplitter(src io.Reader, size int) *splitter {
	return &splitter{src: io.LimitReader(src, MaxFileSize+1), size: size, buf: make([]byte, 0, size), line: 1}
}

// next returns the next chunk, valid until the next call, or nil after the
// last one. The file's size is checked as it is read.
func (s *splitter) next() ([]byte, error) {
	s.buf = append(s.buf[:0], s.rest...)
	n, err := io.ReadFull(s.src, s.buf[len(s.buf):s.size])
	s.buf = s.buf[:len(s.buf)+n]
	s.read += int64(n)
	switch {
	case s.read > MaxFileSize:
		return nil, errTooLarge
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		s.eof = true
	case err != nil:
		return nil, errUnreadable
	}
	if len(s.buf) == 0 {
		return nil, nil
	}
	chunk, rest, records, first := settled(s.buf, s.line, s.eof)
	if len(chunk) == 0 && !s.eof {
		// A record as long as the buffer: cut after its last line.
		end := bytes.LastIndexByte(rest, '\n')
		if end < 0 {
			return nil, latchkey.InvalidField("file", fmt.Sprintf("line %d is longer than %d MB", s.line, s.size>>20))
		}
		chunk, rest = rest[:end+1], rest[end+1:]
		_, _, records, first = settled(chunk, s.line, true)
	}
	if s.records == 0 {
		s.first = first
	}
	s.records += records
	s.line += bytes.Count(chunk, []byte{'\n'})
	s.rest = rest
	return chunk, nil
}

// settled reads data, a part of a file from line line on, and returns the
// start of it whose records more data could not change (all of it when
// final), the rest, and how many records the start has and the first.
// Records are settled when reading did not get to the end of data, for
// them nor for any before them: reading a bad record goes past the line
// where reading resumes.
func settled(data []byte, line int, final bool) (chunk, rest []byte, records int, first record) {
	rd := newReader(data, line)
	cut, n := 0, 0
	for {
		rec, ok := rd.next()
		if !ok || (!final && rd.reach >= len(rd.data)) {
			break
		}
		if n++; n == 1 {
			first = rec
		}
		if rd.reach <= rd.pos() {
			cut, records = rd.pos(), n
		}
	}
	if final {
		cut, records = len(rd.data), n
	}
	return rd.data[:cut], rd.data[cut:], records, first
}

// spooled is an uploaded file stored in a temporary file, cut into chunks
// and checked as it arrived, before any transaction began: a client that
// sends slowly must not hold the database's writer (SQLite's only one)
// while other requests wait to write.
type spooled struct {
	file    *os.File
	ends    []int64 // where each chunk ends in file
	header  header
	records int // the header included
}

// spool reads src to its end into a temporary file (in $TMPDIR), refusing
// it as soon as its header, size or row count is wrong.
func spool(src io.Reader) (*spooled, error) {
	f, err := os.CreateTemp("", "latchkey-import-*.csv")
	if err != nil {
		return nil, err
	}
	sp := &spooled{file: f}
	if err := sp.fill(newSplitter(src, chunkSize)); err != nil {
		sp.close()
		return nil, err
	}
	return sp, nil
}

func (sp *spooled) fill(split *splitter) error {
	var end int64
	for {
		chunk, err := split.next()
		if err != nil || chunk == nil {
			sp.records = split.records
			return err
		}
		if sp.header.names == nil && split.records > 0 {
			if sp.header, err = parseHeader(split.first); err != nil {
				return err
			}
		}
		if split.records-1 > MaxRows {
			return errTooMany
		}
		if _, err := sp.file.Write(chunk); err != nil {
			return err
		}
		end += int64(len(chunk))
		sp.ends = append(sp.ends, end)
	}
}

// chunk returns chunk seq, read into buf.
func (sp *spooled) chunk(seq int, buf []byte) ([]byte, error) {
	var start int64
	if seq > 0 {
		start = sp.ends[seq-1]
	}
	buf = buf[:sp.ends[seq]-start]
	_, err := sp.file.ReadAt(buf, start)
	return buf, err
}

// close removes the temporary file.
func (sp *spooled) close() {
	sp.file.Close()
	os.Remove(sp.file.Name())
}
