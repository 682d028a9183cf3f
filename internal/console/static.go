package console

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

// asset is one embedded static file, ready to serve: its bytes, gzipped
// when that makes it smaller (htmx: 51 KB, 17 KB compressed), and an ETag
// of its content, so that a browser revalidates it after a release with
// one conditional request.
type asset struct {
	plain, gzipped []byte
	etag, mimeType string
}

// assets are the files of static, read and compressed once.
var assets = func() map[string]asset {
	out := map[string]asset{}
	err := fs.WalkDir(staticFiles, "static", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(staticFiles, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		a := asset{plain: b, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, mimeType: mime.TypeByExtension(path.Ext(name))}
		var z bytes.Buffer
		w, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
		w.Write(b)
		w.Close()
		if z.Len() < len(b)*9/10 {
			a.gzipped = z.Bytes()
		}
		out[strings.TrimPrefix(name, "static/")] = a
		return nil
	})
	if err != nil {
		panic(err)
	}
	return out
}()

// serveStatic serves an embedded file by its name under static/: gzipped
// to a client that accepts it, cached for an hour and then revalidated by
// ETag (each encoding has its own).
func serveStatic(w http.ResponseWriter, r *http.Request) {
	a, ok := assets[r.PathValue("file")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.mimeType)
	h.Set("Cache-Control", "public, max-age=3600, must-revalidate")
	h.Set("Vary", "Accept-Encoding")
	body, etag := a.plain, a.etag
	if a.gzipped != nil && acceptsGzip(r) {
		body, etag = a.gzipped, strings.TrimSuffix(a.etag, `"`)+`-gzip"`
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("ETag", etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") && strings.ReplaceAll(strings.TrimSpace(q), " ", "") != "q=0" {
			return true
		}
	}
	return false
}
