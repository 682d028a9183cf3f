package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/httpx"
)

// pageLimits are an endpoint's default and maximum page sizes, and, for a
// list whose store counts only so far (0: it counts every match), the
// most its total_size says.
type pageLimits struct{ def, max, total int }

var (
	directoryPages = pageLimits{20, 200, 0} // realms, identities, groups, members
	oauthPages     = pageLimits{100, 100, 0}
	// Events count up to audit.MaxTotal: above, total_size is audit.MaxTotal
	// and total_size_capped is true.
	eventPages = pageLimits{20, 200, audit.MaxTotal}
)

// pageTokenLifetime is how long a page token stays valid, as the reference says.
const pageTokenLifetime = 7 * 24 * time.Hour

// pageToken is what the opaque page_token carries: the filter (which later
// pages may not change), the page size (which they may), and where the
// previous page ended.
type pageToken struct {
	Filter string `json:"f,omitempty"`
	Size   int    `json:"s"`
	After  string `json:"a"`
	Issued int64  `json:"t"`
}

func (p pageToken) encode() string {
	b, _ := json.Marshal(p)
	return base64.RawURLEncoding.EncodeToString(b)
}

func invalidPageToken() error { return latchkey.InvalidField("page_token", "invalid page token") }

// decodePageToken reads a page token, which expires pageTokenLifetime
// after it was issued, as of now.
func decodePageToken(s string, now time.Time) (pageToken, error) {
	var p pageToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &p) != nil || p.Size <= 0 || p.After == "" {
		return p, invalidPageToken()
	}
	// A token is opaque but not trusted: what it carries goes to the store.
	if latchkey.TextProblem(p.After, false) != "" || latchkey.TextProblem(p.Filter, true) != "" {
		return p, invalidPageToken()
	}
	if now.Sub(time.Unix(p.Issued, 0)) > pageTokenLifetime {
		return p, invalidPageToken()
	}
	return p, nil
}

// page is one list request as the query string states it.
type page struct {
	opts   latchkey.ListOptions
	filter string // the raw filter, carried into the next page token
	size   int
	now    time.Time // when the request came, as the server's clock reads it
	// maxTotal is pageLimits.total: a greater total means "more than maxTotal".
	maxTotal int
}

// parsePage reads page_size, page_token, skip and filter at now, and
// parses the filter against the endpoint's attributes (nil attributes: no
// filter).
func parsePage(r *http.Request, now time.Time, limits pageLimits, attributes []string) (page, error) {
	q := r.URL.Query()
	p := page{size: limits.def, filter: q.Get("filter"), now: now, maxTotal: limits.total}
	if raw := q.Get("page_token"); raw != "" {
		tok, err := decodePageToken(raw, now)
		if err != nil {
			return p, err
		}
		if q.Has("filter") && p.filter != tok.Filter {
			return p, latchkey.InvalidField("filter", "differs from the filter of page_token; start a new listing to change it")
		}
		p.filter, p.size, p.opts.After = tok.Filter, tok.Size, tok.After
	}
	if raw := q.Get("page_size"); raw != "" {
		n, err := strconv.ParseUint(raw, 10, 32)
		if err != nil {
			return p, latchkey.InvalidField("page_size", "must be a non-negative integer")
		}
		if n > 0 {
			p.size = int(n)
		}
	}
	p.size = min(p.size, limits.max)
	if raw := q.Get("skip"); raw != "" {
		n, err := strconv.ParseUint(raw, 10, 31)
		if err != nil {
			return p, latchkey.InvalidField("skip", "must be a non-negative integer")
		}
		p.opts.Skip = int(n)
	}
	if p.filter != "" && attributes == nil {
		return p, latchkey.InvalidField("filter", "this list cannot be filtered")
	}
	// Only events have times to filter on; the store checks them.
	f, err := latchkey.ParseFilter(p.filter, attributes, audit.OrderedAttributes...)
	if err != nil {
		return p, err
	}
	p.opts.Filter = f
	// One more than the page, to learn whether another page follows.
	p.opts.Limit = p.size + 1
	return p, nil
}

// pageBody is the answer of a list: {"<key>": items, "total_size": n,
// "next_page_token"?}, and "total_size_capped": true when there are more
// than p.maxTotal matches (total_size is then p.maxTotal: still an integer).
func pageBody[T any](p page, key string, items []T, total int, id func(T) string) map[string]any {
	body := map[string]any{"total_size": total}
	if p.maxTotal > 0 && total > p.maxTotal {
		body["total_size"], body["total_size_capped"] = p.maxTotal, true
	}
	if len(items) > p.size {
		items = items[:p.size]
		body["next_page_token"] = pageToken{Filter: p.filter, Size: p.size, After: id(items[len(items)-1]), Issued: p.now.Unix()}.encode()
	}
	if items == nil {
		items = []T{}
	}
	body[key] = items
	return body
}

// servePage serves a list endpoint at now: parse the page, fetch it, write it.
func servePage[T any](w http.ResponseWriter, r *http.Request, now time.Time, limits pageLimits, attributes []string, key string,
	id func(T) string, fetch func(opts latchkey.ListOptions) ([]T, int, error)) {
	p, err := parsePage(r, now, limits, attributes)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	items, total, err := fetch(p.opts)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, pageBody(p, key, items, total, id))
}
