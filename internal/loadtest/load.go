package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"
)

// client calls the management API of one tenant with one token, over a
// shared connection pool.
type client struct {
	http   *http.Client
	tenant string // http://localhost:PORT/v1/tenants/TENANT
	token  string
}

func newClient(concurrency int) *client {
	tr := &http.Transport{
		MaxIdleConns:        2 * concurrency,
		MaxIdleConnsPerHost: 2 * concurrency, // every worker keeps its connection
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	return &client{http: &http.Client{Transport: tr, Timeout: time.Minute}}
}

// call makes one request and returns the response body and the latency, up
// to the last byte of the body. A status other than 2xx is an error.
func (c *client) call(ctx context.Context, method, path string, body []byte) ([]byte, time.Duration, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.tenant+path, rd)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, 0, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if err != nil {
		return nil, 0, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, 0, fmt.Errorf("%s %s: %s: %.300s", method, path, resp.Status, b)
	}
	return b, d, nil
}

func (c *client) createRealm(ctx context.Context, name string) (string, error) {
	body, _ := json.Marshal(map[string]any{"realm": map[string]string{"display_name": name}})
	b, _, err := c.call(ctx, http.MethodPost, "/realms", body)
	if err != nil {
		return "", err
	}
	var realm struct{ ID string }
	if err := json.Unmarshal(b, &realm); err != nil || realm.ID == "" {
		return "", fmt.Errorf("create realm: unexpected answer %.300s", b)
	}
	return realm.ID, nil
}

// listPage is the part of a list answer the phases check.
type listPage struct {
	Identities    []json.RawMessage `json:"identities"`
	TotalSize     int               `json:"total_size"`
	NextPageToken string            `json:"next_page_token"`
}

// list lists identities of a realm with the query q and checks that the
// page holds want identities.
func (c *client) list(ctx context.Context, realm string, q url.Values, want int) (listPage, time.Duration, error) {
	var p listPage
	b, d, err := c.call(ctx, http.MethodGet, "/realms/"+realm+"/identities?"+q.Encode(), nil)
	if err != nil {
		return p, 0, err
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, 0, err
	}
	if len(p.Identities) != want {
		return p, 0, fmt.Errorf("%s: %d identities, want %d", q.Encode(), len(p.Identities), want)
	}
	return p, d, nil
}

// op makes one request and returns its latency.
type op func(ctx context.Context) (time.Duration, error)

// phase is one kind of request, made by many workers. newWorker is called
// before the clock starts and returns the worker's op.
type phase struct {
	key       string // what -phases calls it
	name      string
	latency   bool // also run with Config.LatencyConcurrency workers
	newWorker func(ctx context.Context, w, workers int) (op, error)
	// ready, if not nil, runs once the workers are set up, before the clock starts.
	ready func(ctx context.Context) error
	check func(r *result) (target string, ok bool)
}

// phases are, in order: creates in an empty realm, then lookups and pages
// in the realm seeded with n identities.
func phases(c *client, seeded, created string, n int) []phase {
	page := func(skip int) url.Values {
		return url.Values{"page_size": {strconv.Itoa(pageSize)}, "skip": {strconv.Itoa(skip)}}
	}
	pageLen := func(skip int) int { return min(pageSize, n-skip) }
	pageP99 := func(r *result) (string, bool) {
		return "p99 < " + targetPageP99.String(), r.quantile(0.99) < targetPageP99
	}
	return []phase{{
		key:  "create",
		name: "identity create",
		newWorker: func(_ context.Context, w, _ int) (op, error) {
			k := 0
			return func(ctx context.Context) (time.Duration, error) {
				k++
				name := fmt.Sprintf("load-%d-%d", w, k)
				body, _ := json.Marshal(map[string]any{"identity": map[string]any{
					"display_name": name,
					"traits":       map[string]string{"username": name, "primary_email_address": name + "@example.com"},
				}})
				_, d, err := c.call(ctx, http.MethodPost, "/realms/"+created+"/identities", body)
				return d, err
			}, nil
		},
		check: func(r *result) (string, bool) {
			return fmt.Sprintf("≥ %d req/s", targetCreateRate), r.rate() >= targetCreateRate
		},
	}, {
		key:     "lookup",
		name:    "username eq lookup",
		latency: true,
		newWorker: func(context.Context, int, int) (op, error) {
			return func(ctx context.Context) (time.Duration, error) {
				q := url.Values{"filter": {fmt.Sprintf("traits.username eq %q", username(rand.IntN(n)))}}
				_, d, err := c.list(ctx, seeded, q, 1)
				return d, err
			}, nil
		},
		check: func(r *result) (string, bool) {
			return "p99 < " + targetLookupP99.String(), r.quantile(0.99) < targetLookupP99
		},
	}, {
		// Each worker starts at its own share of the realm (one skip
		// request, before the clock starts) and then follows
		// next_page_token, from the first page again at the end.
		key:     "walk",
		name:    "page of 200, page_token walk",
		latency: true,
		newWorker: func(ctx context.Context, w, workers int) (op, error) {
			start := w * n / workers
			p, _, err := c.list(ctx, seeded, page(start), pageLen(start))
			if err != nil {
				return nil, err
			}
			token, seen := p.NextPageToken, start+pageSize
			return func(ctx context.Context) (time.Duration, error) {
				if token == "" {
					p, d, err := c.list(ctx, seeded, page(0), pageLen(0))
					token, seen = p.NextPageToken, pageSize
					return d, err
				}
				q := url.Values{"page_token": {token}}
				p, d, err := c.list(ctx, seeded, q, pageLen(seen))
				token, seen = p.NextPageToken, seen+pageSize
				return d, err
			}, nil
		},
		check: pageP99,
	}, {
		key:     "skip",
		name:    "page of 200, random skip",
		latency: true,
		newWorker: func(context.Context, int, int) (op, error) {
			return func(ctx context.Context) (time.Duration, error) {
				skip := rand.IntN(max(1, n-pageSize))
				_, d, err := c.list(ctx, seeded, page(skip), pageLen(skip))
				return d, err
			}, nil
		},
		check: pageP99,
	}}
}

// result is what one phase measured.
type result struct {
	name      string
	workers   int
	latencies []time.Duration // of the successful requests, sorted
	errors    int
	firstErr  error
	elapsed   time.Duration
	// Measured by the caller: the server's peak VmRSS in bytes; the CPU
	// used, in cores, by the server, this load generator, PostgreSQL and the
	// whole machine; the CPU time per request of the server and of the
	// PostgreSQL backends that served it.
	rssMax                               int64
	cpu                                  [4]float64
	serverPerRequest, backendsPerRequest time.Duration
	check                                func(r *result) (string, bool)
}

func (r *result) count() int { return len(r.latencies) }

// rate is successful requests per second.
func (r *result) rate() float64 { return float64(len(r.latencies)) / r.elapsed.Seconds() }

// quantile returns the q-quantile of the latencies (nearest rank).
func (r *result) quantile(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(q*float64(len(r.latencies))+0.999999) - 1
	return r.latencies[min(max(i, 0), len(r.latencies)-1)]
}

func (r *result) summary() string {
	return fmt.Sprintf("%d requests, %d errors, %.0f req/s, p50 %s, p99 %s ms, CPU: server %.2f, load gen %.2f, postgres %.2f, machine %.2f; per request: server %s ms, backends %s ms",
		r.count(), r.errors, r.rate(), ms(r.quantile(0.5)), ms(r.quantile(0.99)), r.cpu[0], r.cpu[1], r.cpu[2], r.cpu[3],
		ms3(r.serverPerRequest), ms3(r.backendsPerRequest))
}

// runPhase runs workers closed-loop for d: each makes its next request as
// soon as the previous one is answered. started is called once the workers
// are set up, as the clock starts.
func runPhase(ctx context.Context, p phase, workers int, d time.Duration, started func()) (*result, error) {
	ops := make([]op, workers)
	for w := range ops {
		var err error
		if ops[w], err = p.newWorker(ctx, w, workers); err != nil {
			return nil, err
		}
	}
	if p.ready != nil {
		if err := p.ready(ctx); err != nil {
			return nil, err
		}
	}
	r := &result{name: p.name, workers: workers, check: p.check}
	var mu sync.Mutex
	var wg sync.WaitGroup
	started()
	start := time.Now()
	deadline := start.Add(d)
	for _, o := range ops {
		wg.Go(func() {
			var lat []time.Duration
			var errs int
			var firstErr error
			for time.Now().Before(deadline) && ctx.Err() == nil {
				d, err := o(ctx)
				if err != nil {
					errs++
					firstErr = cmpOr(firstErr, err)
					continue
				}
				lat = append(lat, d)
			}
			mu.Lock()
			r.latencies = append(r.latencies, lat...)
			r.errors += errs
			r.firstErr = cmpOr(r.firstErr, firstErr)
			mu.Unlock()
		})
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	slices.Sort(r.latencies)
	return r, ctx.Err()
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
