// Package loadtest is Latchkey's load benchmark, the logic of
// cmd/latchkey-load. It owns one benchmark run per storage engine: it starts
// `latchkey serve` as a separate process on a scratch data directory (and,
// for PostgreSQL, a scratch database it creates and drops; or both kept for
// the next run), seeds a realm with identities directly through the store,
// drives the HTTP API with a closed-loop load generator, samples the
// server's memory and the CPU of the server and of its PostgreSQL backends
// from /proc, and reports each phase against the targets in BENCHMARKS.md.
//
// Only cmd and tests import it.
package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/apiclient"
	"github.com/latchkey/latchkey/internal/bootstrap"
)

// Config is one benchmark run.
type Config struct {
	Bin        string   // the latchkey binary; "" builds one into a temporary directory
	Engines    []string // "sqlite", "postgres"
	Identities int      // identities seeded into the realm that lookups and pages read
	// Suite is "api" (the management API's identity phases) or "scim".
	Suite       string
	Concurrency int // workers per phase
	// LatencyConcurrency, when not 0 or Concurrency, is a second, lighter
	// number of workers that the read phases also run with, to measure their
	// latency without the queueing of a saturated machine.
	LatencyConcurrency int
	Duration           time.Duration // length of each phase
	// PostgresDSN names the server (and a database to connect to first) on
	// which a scratch database is created for the run and dropped after it.
	PostgresDSN string
	// Phases, when not empty, selects the suite's phases to run, by key
	// ("lookup"); CheckPhases checks them.
	Phases []string
	// Keep, when set, is a directory where each engine's data directory
	// and database outlive the run, so that the next run with the same
	// Keep reuses the seeded realm instead of seeding again.
	Keep string
	Out  io.Writer // the result tables
	Log  io.Writer // progress
}

// Targets.
const (
	targetCreateRate = 2000                   // identity creates per second
	targetLookupP99  = 5 * time.Millisecond   // traits.username eq
	targetPageP99    = 20 * time.Millisecond  // a 200-identity page
	targetRSS        = 200 << 20              // server VmRSS and VmHWM, bytes
	targetSeed       = 30 * time.Minute       // seeding the identities
	pageSize         = 200                    // identities per listed page
	healthTimeout    = 2 * time.Minute        // for the server to answer /healthz
	idleAfter        = 5 * time.Second        // quiet time before the "after" memory reading
	sampleEvery      = 100 * time.Millisecond // memory sampling interval
)

// Run benchmarks every configured engine and writes a table for each.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Bin == "" {
		dir, err := os.MkdirTemp("", "latchkey-load-bin-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		cfg.Bin = filepath.Join(dir, "latchkey")
		fmt.Fprintln(cfg.Log, "building latchkey …")
		build := exec.CommandContext(ctx, "go", "build", "-o", cfg.Bin, "github.com/latchkey/latchkey/cmd/latchkey")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	var errs []error
	for _, engine := range cfg.Engines {
		r, err := runEngine(ctx, cfg, engine)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", engine, err))
			continue
		}
		r.write(cfg.Out)
	}
	return errors.Join(errs...)
}

// runEngine runs the selected phases on one engine.
func runEngine(ctx context.Context, cfg Config, engine string) (*report, error) {
	ws, err := openWorkspace(cfg, engine)
	if err != nil {
		return nil, err
	}
	defer ws.remove()
	var pg *backends
	if engine == "postgres" {
		if pg, err = openBackends(cfg.PostgresDSN, ws.db); err != nil {
			return nil, err
		}
		defer pg.close()
	}

	fmt.Fprintf(cfg.Log, "[%s] starting latchkey serve …\n", engine)
	srv, err := startServer(ctx, cfg.Bin, ws.dataDir, filepath.Join(ws.root, "server.log"), ws.dsn)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	fmt.Fprintf(cfg.Log, "[%s] server pid %d at %s\n", engine, srv.pid(), srv.url)

	creds, err := bootstrap.ReadFile(ws.dataDir)
	if err != nil {
		return nil, err
	}
	c := newClient(cfg.Concurrency)
	token, err := apiclient.Token(ctx, c.http, creds, "")
	if err != nil {
		return nil, err
	}
	c.token = token
	c.tenant = creds.APIBaseURL + "/v1/tenants/" + creds.TenantID
	// Creates go to a realm of their own, new on every run.
	created, err := c.createRealm(ctx, "Load created "+time.Now().UTC().Format("20060102-150405.000000"))
	if err != nil {
		return nil, err
	}

	r := &report{engine: engine, cfg: cfg}
	var seeded string
	var ids []string
	if ws.kept != nil && ws.kept.Realm != "" {
		seeded, r.seedTime, r.reused = ws.kept.Realm, ws.kept.SeedTime, ws.root
		if ids, err = ws.keptIDs(); err != nil {
			return nil, err
		}
		fmt.Fprintf(cfg.Log, "[%s] reusing the %d identities seeded in %s\n", engine, len(ids), ws.root)
	} else {
		if seeded, err = c.createRealm(ctx, "Load seeded"); err != nil {
			return nil, err
		}
		fmt.Fprintf(cfg.Log, "[%s] seeding %d identities …\n", engine, cfg.Identities)
		if ids, r.seedTime, err = seed(ctx, engine, filepath.Join(ws.dataDir, "latchkey.db"), ws.dsn, creds.TenantID, seeded, cfg.Identities); err != nil {
			return nil, fmt.Errorf("seed: %w", err)
		}
		fmt.Fprintf(cfg.Log, "[%s] seeded %d identities in %s (%.0f rows/s)\n", engine, cfg.Identities,
			r.seedTime.Round(time.Second), float64(cfg.Identities)/r.seedTime.Seconds())
		if err := ws.seeded(cfg, seeded, ids, r.seedTime); err != nil {
			return nil, err
		}
	}

	mem := watchMemory(srv.pid())
	defer mem.stop()
	for _, p := range selected(cfg, suite(cfg, engine, c, seeded, created, ids, ws.dsn)) {
		workers := []int{cfg.Concurrency}
		if p.latency && cfg.LatencyConcurrency > 0 && cfg.LatencyConcurrency != cfg.Concurrency {
			workers = []int{cfg.LatencyConcurrency, cfg.Concurrency}
		}
		for _, n := range workers {
			fmt.Fprintf(cfg.Log, "[%s] phase %s: %d workers for %s …\n", engine, p.name, n, cfg.Duration)
			res, err := measure(ctx, p, n, cfg.Duration, srv.pid(), pg, mem)
			if err != nil {
				return nil, fmt.Errorf("phase %s: %w", p.name, err)
			}
			fmt.Fprintf(cfg.Log, "[%s]   %s\n", engine, res.summary())
			r.phases = append(r.phases, res)
		}
	}
	time.Sleep(idleAfter)
	if r.rssAfter, r.hwm, err = readMemory(srv.pid()); err != nil {
		return nil, err
	}
	return r, nil
}

// suite returns the phases of cfg.Suite.
func suite(cfg Config, engine string, c *client, seeded, created string, ids []string, dsn string) []phase {
	if cfg.Suite != "scim" {
		return phases(c, seeded, created, cfg.Identities)
	}
	// Groups are filled just before their PATCH phases: on PostgreSQL the
	// phase first does what autovacuum soon would, as after seeding.
	var settleMembers func(context.Context) error
	if engine == "postgres" {
		settleMembers = func(ctx context.Context) error { return Settle(ctx, dsn, "memberships") }
	}
	return scimPhases(c, seeded, created, ids, settleMembers)
}

// selected returns the phases that cfg.Phases names, in the suite's order;
// all of them if it names none.
func selected(cfg Config, all []phase) []phase {
	if len(cfg.Phases) == 0 {
		return all
	}
	var ps []phase
	for _, p := range all {
		if slices.Contains(cfg.Phases, p.key) {
			ps = append(ps, p)
		}
	}
	return ps
}

// CheckPhases returns an error that lists the suite's phases if cfg.Phases
// names one that the suite does not have.
func CheckPhases(cfg Config) error {
	var keys []string
	for _, p := range suite(cfg, "", nil, "", "", nil, "") {
		keys = append(keys, p.key)
	}
	for _, k := range cfg.Phases {
		if !slices.Contains(keys, k) {
			return fmt.Errorf("the %s suite has no phase %q; its phases are %s", cfg.Suite, k, strings.Join(keys, ","))
		}
	}
	return nil
}

// measure runs a phase and adds what was used meanwhile: the server's peak
// VmRSS, and the CPU, in cores, of the server, of this load generator, of
// PostgreSQL and of the whole machine (which also counts anything else that
// runs), and per request, of the server and of the PostgreSQL backends of
// its connections (pg nil: none, SQLite).
func measure(ctx context.Context, p phase, workers int, d time.Duration, pid int, pg *backends, mem *memoryWatch) (*result, error) {
	var before cpuReading
	var err0 error
	res, err := runPhase(ctx, p, workers, d, func() {
		mem.reset()
		before, err0 = readCPU(ctx, pid, pg)
	})
	after, err1 := readCPU(ctx, pid, pg)
	if err := errors.Join(err, err0, err1); err != nil {
		return nil, err
	}
	res.rssMax = mem.max()
	used := [4]time.Duration{after.server - before.server, after.tool - before.tool,
		postgresDelta(before.postgres, after.postgres, func(string) bool { return true }), after.machine - before.machine}
	for i, u := range used {
		res.cpu[i] = float64(u) / float64(res.elapsed)
	}
	if n := res.count(); n > 0 {
		res.serverPerRequest = used[0] / time.Duration(n)
		if pg != nil {
			// A backend that the pool opened during the phase counts whole.
			serving := func(pid string) bool {
				return slices.Contains(before.backends, pid) || slices.Contains(after.backends, pid)
			}
			res.backendsPerRequest = postgresDelta(before.postgres, after.postgres, serving) / time.Duration(n)
		}
	}
	return res, nil
}

// cpuReading is the CPU time used so far by the server, this process,
// PostgreSQL (by pid) and the whole machine, and the pids of the PostgreSQL
// backends that serve the server.
type cpuReading struct {
	server, tool, machine time.Duration
	postgres              map[string]time.Duration
	backends              []string
}

func readCPU(ctx context.Context, pid int, pg *backends) (cpuReading, error) {
	var r cpuReading
	var errs [5]error
	if pg != nil {
		r.backends, errs[4] = pg.pids(ctx)
	}
	r.server, errs[0] = cpuTime(pid)
	r.tool, errs[1] = cpuTime(os.Getpid())
	r.postgres, errs[2] = postgresCPU()
	r.machine, errs[3] = machineBusy()
	return r, errors.Join(errs[:]...)
}

// report is one engine's results.
type report struct {
	engine   string
	cfg      Config
	seedTime time.Duration
	reused   string // the kept workspace whose seeded realm was reused, or ""
	phases   []*result
	rssAfter int64 // VmRSS after the phases and idleAfter, bytes
	hwm      int64 // VmHWM (peak VmRSS) of the server's whole life, bytes
}

func passFail(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

func ms3(d time.Duration) string { return fmt.Sprintf("%.3f", float64(d)/float64(time.Millisecond)) }

func mib(b int64) string { return fmt.Sprintf("%.1f", float64(b)/(1<<20)) }

// write prints the report as Markdown tables.
func (r *report) write(w io.Writer) {
	fmt.Fprintf(w, "\n### %s, %s suite — %d identities, concurrency %d, %s per phase\n\n", r.engine, r.cfg.Suite, r.cfg.Identities, r.cfg.Concurrency, r.cfg.Duration)
	fmt.Fprintf(w, "| phase | workers | requests | errors | req/s | p50 ms | p90 ms | p99 ms | max ms | CPU server | CPU load gen | CPU postgres | CPU machine (of %d) | server CPU ms/req | backends CPU ms/req | server RSS max MiB | target | result |\n", runtime.NumCPU())
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|")
	var during int64
	for _, p := range r.phases {
		target, ok := p.check(p)
		backends := "–"
		if r.engine == "postgres" {
			backends = ms3(p.backendsPerRequest)
		}
		fmt.Fprintf(w, "| %s | %d | %d | %d | %.0f | %s | %s | %s | %s | %.2f | %.2f | %.2f | %.2f | %s | %s | %s | %s | %s |\n",
			p.name, p.workers, p.count(), p.errors, p.rate(), ms(p.quantile(0.50)), ms(p.quantile(0.90)), ms(p.quantile(0.99)),
			ms(p.quantile(1)), p.cpu[0], p.cpu[1], p.cpu[2], p.cpu[3], ms3(p.serverPerRequest), backends, mib(p.rssMax), target, passFail(ok))
		during = max(during, p.rssMax)
	}
	fmt.Fprintln(w)
	seedOK := r.seedTime < targetSeed
	settle := ""
	if r.engine == "postgres" {
		settle = ", with VACUUM ANALYZE and CHECKPOINT"
	}
	if r.reused != "" {
		settle += ", by an earlier run: reused from " + r.reused
	}
	fmt.Fprintf(w, "- seeding: %d identities in %s (%.0f rows/s%s); target < %s: %s\n", r.cfg.Identities,
		r.seedTime.Round(time.Second), float64(r.cfg.Identities)/r.seedTime.Seconds(), settle, targetSeed, passFail(seedOK))
	if r.engine == "postgres" {
		fmt.Fprintln(w, "- CPU ms/req: the server process's CPU time (/proc/PID/stat) and that of the PostgreSQL backends connected to its database (their pids from pg_stat_activity), per successful request")
	} else {
		fmt.Fprintln(w, "- CPU ms/req: the server process's CPU time (/proc/PID/stat, SQLite runs inside it) per successful request")
	}
	memOK := during < targetRSS && r.rssAfter < targetRSS && r.hwm < targetRSS
	fmt.Fprintf(w, "- server memory: VmRSS at most %s MiB during the phases and %s MiB %s after them, VmHWM %s MiB; target < %s MiB: %s\n",
		mib(during), mib(r.rssAfter), idleAfter, mib(r.hwm), mib(targetRSS), passFail(memOK))
	for _, p := range r.phases {
		if p.firstErr != nil {
			fmt.Fprintf(w, "- %s: first error: %v\n", p.name, p.firstErr)
		}
	}
}
