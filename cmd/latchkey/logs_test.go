package main_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRequestLogs: in both log formats every request's log line carries the
// request id its answer returned in X-Request-Id (a valid incoming one is
// kept), with the method, path and status; in json every stderr line is a
// JSON object.
func TestRequestLogs(t *testing.T) {
	for _, tc := range []struct {
		format string
		fields func(line string) (map[string]string, error)
	}{
		{"json", jsonLogFields},
		{"text", textLogFields},
	} {
		t.Run(tc.format, func(t *testing.T) {
			dir := t.TempDir()
			n := serve(t, freeAddr(t), dir, "--log-format", tc.format)
			tok := n.token(t)
			for _, req := range []struct {
				path, token, requestID string
				status                 int
			}{
				{tenantPath(credentials(t, dir)["tenant_id"]), tok, "", http.StatusOK},
				{"/v1/nope", "", "", http.StatusNotFound},
				{"/healthz", "", "caller-chosen.id_1", http.StatusOK},
			} {
				id := n.requestID(t, req.path, req.token, req.requestID, req.status)
				if req.requestID != "" && id != req.requestID {
					t.Errorf("GET %s: X-Request-Id %q, want the incoming %q", req.path, id, req.requestID)
				}
				line := n.waitLog(t, tc.fields, func(f map[string]string) bool { return f["msg"] == "request" && f["request_id"] == id })
				want := map[string]string{"method": "GET", "path": req.path, "status": strconv.Itoa(req.status)}
				for k, v := range want {
					if line[k] != v {
						t.Errorf("log line of request %s: %s %q, want %q", id, k, line[k], v)
					}
				}
			}
			for _, line := range strings.Split(strings.TrimSpace(n.stderr.String()), "\n") {
				f, err := tc.fields(line)
				if err != nil {
					t.Errorf("stderr line is not a %s log line (%v): %s", tc.format, err, line)
				} else if f["msg"] == "request" && f["request_id"] == "" {
					t.Errorf("request log line without request_id: %s", line)
				}
			}
		})
	}
}

// requestID sends GET path, with X-Request-Id incoming unless it is "",
// requires the status want, and returns the X-Request-Id of the answer.
func (n *node) requestID(t *testing.T, path, token, incoming string, want int) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, n.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if incoming != "" {
		req.Header.Set("X-Request-Id", incoming)
	}
	resp, err := n.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	id := resp.Header.Get("X-Request-Id")
	if resp.StatusCode != want || id == "" {
		t.Fatalf("GET %s: status %d, X-Request-Id %q; want %d and an id", path, resp.StatusCode, id, want)
	}
	return id
}

// waitLog returns the fields of the first stderr line that match accepts,
// waiting for it: the line is written as the answer goes out.
func (n *node) waitLog(t *testing.T, fields func(string) (map[string]string, error), match func(map[string]string) bool) map[string]string {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, line := range strings.Split(n.stderr.String(), "\n") {
			if f, err := fields(line); err == nil && match(f) {
				return f
			}
		}
	}
	t.Fatalf("no matching log line within 5s; stderr:\n%s", tail(n.stderr.String()))
	return nil
}

// jsonLogFields reads a JSON log line, its values as text.
func jsonLogFields(line string) (map[string]string, error) {
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		return nil, err
	}
	f := make(map[string]string, len(m))
	for k, v := range m {
		f[k] = fmt.Sprint(v)
	}
	return f, nil
}

// textLogKV is one key=value of a log/slog text line; quoted values are Go strings.
var textLogKV = regexp.MustCompile(`(\S+?)=("(?:[^"\\]|\\.)*"|\S*)(?: |$)`)

// textLogFields reads a log/slog text line.
func textLogFields(line string) (map[string]string, error) {
	f := map[string]string{}
	rest := line
	for rest != "" {
		m := textLogKV.FindStringSubmatchIndex(rest)
		if m == nil || m[0] != 0 {
			return nil, fmt.Errorf("not key=value at %q", rest)
		}
		key, value := rest[m[2]:m[3]], rest[m[4]:m[5]]
		if strings.HasPrefix(value, `"`) {
			var err error
			if value, err = strconv.Unquote(value); err != nil {
				return nil, err
			}
		}
		f[key] = value
		rest = rest[m[1]:]
	}
	if f["msg"] == "" {
		return nil, errors.New("no msg")
	}
	return f, nil
}
