package scim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// BulkRequest is the body of POST /Bulk (RFC 7644 §3.7).
type BulkRequest struct {
	Schemas []string `json:"schemas"`
	// FailOnErrors stops the run after that many failed operations; 0 runs them all.
	FailOnErrors int             `json:"failOnErrors"`
	Operations   []BulkOperation `json:"Operations"`
}

// BulkOperation is one operation of a BulkRequest: Path is relative to the
// SCIM base ("/Users", "/Groups/{id}"), Version an If-Match, Data the body.
type BulkOperation struct {
	Method  string          `json:"method"`
	BulkID  string          `json:"bulkId,omitempty"`
	Version string          `json:"version,omitempty"`
	Path    string          `json:"path"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// BulkResponse is the answer of POST /Bulk.
type BulkResponse struct {
	Schemas    []string     `json:"schemas"`
	Operations []BulkResult `json:"Operations"`
}

// BulkResult is the outcome of one operation: Response is the SCIM error of
// a failed one.
type BulkResult struct {
	Method   string          `json:"method"`
	BulkID   string          `json:"bulkId,omitempty"`
	Version  string          `json:"version,omitempty"`
	Location string          `json:"location,omitempty"`
	Status   string          `json:"status"`
	Response json.RawMessage `json:"response,omitempty"`
}

// bulkRef matches a "bulkId:<id>" reference, whole or inside a filter string.
var bulkRef = regexp.MustCompile(`bulkId:([^\s"\\/\[\],]+)`)

// bulk serves POST /Bulk. Each operation is served by the handler of its
// single-resource endpoint among routes, with the request's context (and so
// its bearer's scopes), as a request of its own.
//
// Operations run in request order, except that one referring to the bulkId
// of a later POST waits for it; a reference that cannot be resolved (no such
// bulkId, its POST failed, or a cycle) is a 409 for that operation.
func (h *Handler) bulk(routes []Route) http.HandlerFunc {
	byPattern := map[string]http.HandlerFunc{}
	for _, rt := range routes {
		if rt.Method != http.MethodGet && !strings.HasSuffix(rt.Path, "/.search") {
			byPattern[rt.Method+" "+rt.Path] = rt.Handler
		}
	}
	return func(w http.ResponseWriter, r *http.Request) {
		body, serr := readBody(w, r)
		if serr != nil {
			WriteError(w, r, serr)
			return
		}
		var req BulkRequest
		if serr := Decode(body, &req); serr != nil {
			WriteError(w, r, serr)
			return
		}
		if serr := checkBulk(req); serr != nil {
			WriteError(w, r, serr)
			return
		}
		run := bulkRun{h: h, r: r, handlers: byPattern, ops: req.Operations,
			results: make([]*BulkResult, len(req.Operations)),
			created: map[string]string{}, posted: map[string]bool{}}
		for _, op := range req.Operations {
			if op.BulkID != "" {
				run.posted[op.BulkID] = false
			}
		}
		run.all(req.FailOnErrors)
		out := BulkResponse{Schemas: []string{SchemaBulkResponse}, Operations: []BulkResult{}}
		for _, res := range run.results {
			if res != nil {
				out.Operations = append(out.Operations, *res)
			}
		}
		WriteJSON(w, http.StatusOK, out)
	}
}

// checkBulk applies the limits and the rules that concern the whole request.
func checkBulk(req BulkRequest) *Error {
	if !slices.Contains(req.Schemas, SchemaBulkRequest) {
		return InvalidValue("schemas must contain %s", SchemaBulkRequest)
	}
	if len(req.Operations) > MaxBulkOperations {
		return PayloadTooLarge("the request has %d operations; maxOperations is %d", len(req.Operations), MaxBulkOperations)
	}
	if req.FailOnErrors < 0 {
		return InvalidValue("failOnErrors must not be negative")
	}
	seen := map[string]bool{}
	for i, op := range req.Operations {
		if op.BulkID == "" {
			continue
		}
		if seen[op.BulkID] {
			return InvalidValue("Operations[%d]: bulkId %q is used twice", i, op.BulkID)
		}
		seen[op.BulkID] = true
	}
	return nil
}

// bulkRun is the state of one bulk request.
type bulkRun struct {
	h        *Handler
	r        *http.Request
	handlers map[string]http.HandlerFunc // by "METHOD /Users/{id}"
	ops      []BulkOperation
	results  []*BulkResult     // by operation; nil until it ran
	created  map[string]string // bulkId → id of the resource its POST created
	posted   map[string]bool   // bulkId of the request → whether its operation ran
	errors   int
}

// all runs the operations until every one ran or failOnErrors is reached.
func (b *bulkRun) all(failOnErrors int) {
	pending := make([]int, len(b.ops))
	for i := range pending {
		pending[i] = i
	}
	for len(pending) > 0 {
		var waiting []int
		for _, i := range pending {
			if failOnErrors > 0 && b.errors >= failOnErrors {
				return
			}
			if b.waits(b.ops[i]) {
				waiting = append(waiting, i)
				continue
			}
			b.results[i] = b.one(b.ops[i])
			if b.results[i].failed() {
				b.errors++
			}
		}
		if len(waiting) == len(pending) { // each waits for another: a cycle
			for _, i := range waiting {
				if failOnErrors > 0 && b.errors >= failOnErrors {
					return
				}
				b.results[i] = b.fail(b.ops[i], NewError(http.StatusConflict, "",
					"circular bulkId references cannot be resolved"))
				b.errors++
			}
			return
		}
		pending = waiting
	}
}

// references returns the bulkIds an operation refers to.
func references(op BulkOperation) []string {
	var out []string
	for _, s := range [][]byte{[]byte(op.Path), op.Data} {
		for _, m := range bulkRef.FindAllSubmatch(s, -1) {
			out = append(out, string(m[1]))
		}
	}
	return out
}

// waits reports whether op refers to a bulkId whose POST has not run yet.
func (b *bulkRun) waits(op BulkOperation) bool {
	return slices.ContainsFunc(references(op), func(id string) bool {
		ran, ok := b.posted[id]
		return ok && !ran && id != op.BulkID
	})
}

// one runs an operation through its endpoint's handler.
func (b *bulkRun) one(op BulkOperation) *BulkResult {
	if op.BulkID != "" {
		defer func() { b.posted[op.BulkID] = true }()
	}
	for _, ref := range references(op) {
		if _, ok := b.created[ref]; !ok {
			return b.fail(op, NewError(http.StatusConflict, "", "bulkId "+strconv.Quote(ref)+" cannot be resolved"))
		}
	}
	resolve := func(s []byte) []byte {
		return bulkRef.ReplaceAllFunc(s, func(m []byte) []byte { return []byte(b.created[string(m[len("bulkId:"):])]) })
	}
	path := string(resolve([]byte(op.Path)))
	method := strings.ToUpper(op.Method)
	handler, id, serr := b.route(method, path)
	if serr == nil && method == http.MethodPost && op.BulkID == "" {
		serr = InvalidValue("bulkId is required for POST")
	}
	if serr == nil && method != http.MethodDelete && len(op.Data) == 0 {
		serr = InvalidValue("data is required for %s", method)
	}
	if serr != nil {
		return b.fail(op, serr)
	}
	location := b.h.base(b.r) + path
	sub, err := http.NewRequestWithContext(b.r.Context(), method, location, bytes.NewReader(resolve(op.Data)))
	if err != nil {
		return b.fail(op, InvalidValue("path %q is not a resource path", path))
	}
	sub.Header.Set("Content-Type", ContentType)
	if op.Version != "" {
		sub.Header.Set("If-Match", op.Version)
	}
	for _, name := range []string{"tenant", "realm"} {
		sub.SetPathValue(name, b.r.PathValue(name))
	}
	if id != "" {
		sub.SetPathValue("id", id)
	}
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	handler(rec, sub)

	res := &BulkResult{Method: method, BulkID: op.BulkID, Status: strconv.Itoa(rec.status),
		Version: rec.header.Get("ETag"), Location: rec.header.Get("Location")}
	if res.failed() {
		res.Version, res.Location, res.Response = "", "", bytes.TrimSpace(rec.body.Bytes())
		return res
	}
	if res.Location == "" {
		res.Location = location
	}
	if method == http.MethodPost && op.BulkID != "" {
		b.created[op.BulkID] = res.Location[strings.LastIndex(res.Location, "/")+1:]
	}
	return res
}

// route finds the handler of a method and path ("/Users", "/Groups/{id}"),
// and the id the path names.
func (b *bulkRun) route(method, path string) (http.HandlerFunc, string, *Error) {
	endpoint, id, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	pattern := "/" + endpoint
	if id != "" {
		pattern += "/{id}"
	}
	if strings.Contains(id, "/") || strings.ContainsAny(path, "?#") {
		return nil, "", InvalidValue("path %q is not a resource path", path)
	}
	h, ok := b.handlers[method+" "+pattern]
	if !ok {
		return nil, "", InvalidValue("%s %s is not a bulk operation: use POST /Users, POST /Groups, or PUT, PATCH or DELETE /Users/{id} or /Groups/{id}", method, path)
	}
	return h, id, nil
}

// fail returns the result of an operation that did not reach a handler.
func (b *bulkRun) fail(op BulkOperation, e *Error) *BulkResult {
	body, _ := json.Marshal(e)
	return &BulkResult{Method: strings.ToUpper(op.Method), BulkID: op.BulkID, Status: e.Status, Response: body}
}

func (res *BulkResult) failed() bool {
	n, _ := strconv.Atoi(res.Status)
	return n >= 400
}

// recorder keeps what a handler answers to one bulk operation.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(status int)      { r.status = status }
