// Package loadtest is Latchkey's load benchmark, the logic of
// cmd/latchkey-load. It owns one benchmark run per storage engine: it starts
// `latchkey serve` as a separate process on a scratch data directory (and,
// for PostgreSQL, a scratch database it creates and drops), seeds a realm
// with identities directly through the store, drives the HTTP API with a
// closed-loop load generator, samples the server's memory from /proc, and
// reports each phase against the targets in BENCHMARKS.md.
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
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/apiclient"
	"github.com/latchkey/latchkey/internal/bootstrap"
	"github.com/latchkey/latchkey/internal/store/postgres"
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
	Out         io.Writer // the result tables
	Log         io.Writer // progress
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

// runEngine runs every phase on one engine, from a fresh database.
func runEngine(ctx context.Context, cfg Config, engine string) (*report, error) {
	root, err := os.MkdirTemp("", "latchkey-load-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(root)
	dataDir := filepath.Join(root, "data")
	var dsn string
	switch engine {
	case "sqlite":
	case "postgres":
		name := "latchkey_load_" + strings.ToLower(latchkey.RandomString(10))
		if dsn, err = postgres.CreateDatabase(cfg.PostgresDSN, name); err != nil {
			return nil, fmt.Errorf("create database: %w", err)
		}
		defer func() {
			if err := postgres.DropDatabase(cfg.PostgresDSN, name); err != nil {
				fmt.Fprintf(cfg.Log, "drop database %s: %v\n", name, err)
			}
		}()
	default:
		return nil, fmt.Errorf("unknown engine %q", engine)
	}

	fmt.Fprintf(cfg.Log, "[%s] starting latchkey serve …\n", engine)
	srv, err := startServer(ctx, cfg.Bin, dataDir, filepath.Join(root, "server.log"), dsn)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	fmt.Fprintf(cfg.Log, "[%s] server pid %d at %s\n", engine, srv.pid(), srv.url)

	creds, err := bootstrap.ReadFile(dataDir)
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
	seeded, err := c.createRealm(ctx, "Load seeded")
	if err != nil {
		return nil, err
	}
	created, err := c.createRealm(ctx, "Load created")
	if err != nil {
		return nil, err
	}

	r := &report{engine: engine, cfg: cfg}
	fmt.Fprintf(cfg.Log, "[%s] seeding %d identities …\n", engine, cfg.Identities)
	ids, seedTime, err := seed(ctx, engine, filepath.Join(dataDir, "latchkey.db"), dsn, creds.TenantID, seeded, cfg.Identities)
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	r.seedTime = seedTime
	fmt.Fprintf(cfg.Log, "[%s] seeded %d identities in %s (%.0f rows/s)\n", engine, cfg.Identities,
		r.seedTime.Round(time.Second), float64(cfg.Identities)/r.seedTime.Seconds())

	mem := watchMemory(srv.pid())
	defer mem.stop()
	suite := phases(c, seeded, created, cfg.Identities)
	if cfg.Suite == "scim" {
		// Groups are filled just before their PATCH phases: on PostgreSQL the
		// phase first does what autovacuum soon would, as after seeding.
		var settleMembers func(context.Context) error
		if engine == "postgres" {
			settleMembers = func(ctx context.Context) error { return Settle(ctx, dsn, "memberships") }
		}
		suite = scimPhases(c, seeded, created, ids, settleMembers)
	}
	for _, p := range suite {
		workers := []int{cfg.Concurrency}
		if p.latency && cfg.LatencyConcurrency > 0 && cfg.LatencyConcurrency != cfg.Concurrency {
			workers = []int{cfg.LatencyConcurrency, cfg.Concurrency}
		}
		for _, n := range workers {
			fmt.Fprintf(cfg.Log, "[%s] phase %s: %d workers for %s …\n", engine, p.name, n, cfg.Duration)
			res, err := measure(ctx, p, n, cfg.Duration, srv.pid(), mem)
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

// measure runs a phase and adds what was used meanwhile: the server's peak
// VmRSS, and the CPU, in cores, of the server, of this load generator, of
// PostgreSQL and of the whole machine (which also counts anything else that
// runs).
func measure(ctx context.Context, p phase, workers int, d time.Duration, pid int, mem *memoryWatch) (*result, error) {
	var before cpuReading
	var err0 error
	res, err := runPhase(ctx, p, workers, d, func() {
		mem.reset()
		before, err0 = readCPU(pid)
	})
	after, err1 := readCPU(pid)
	if err := errors.Join(err, err0, err1); err != nil {
		return nil, err
	}
	res.rssMax = mem.max()
	used := [4]time.Duration{after.server - before.server, after.tool - before.tool,
		postgresDelta(before.postgres, after.postgres), after.machine - before.machine}
	for i, u := range used {
		res.cpu[i] = float64(u) / float64(res.elapsed)
	}
	return res, nil
}

// cpuReading is the CPU time used so far by the server, this process,
// PostgreSQL (by pid) and the whole machine.
type cpuReading struct {
	server, tool, machine time.Duration
	postgres              map[string]time.Duration
}

func readCPU(pid int) (cpuReading, error) {
	var r cpuReading
	var errs [4]error
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

func mib(b int64) string { return fmt.Sprintf("%.1f", float64(b)/(1<<20)) }

// write prints the report as Markdown tables.
func (r *report) write(w io.Writer) {
	fmt.Fprintf(w, "\n### %s, %s suite — %d identities, concurrency %d, %s per phase\n\n", r.engine, r.cfg.Suite, r.cfg.Identities, r.cfg.Concurrency, r.cfg.Duration)
	fmt.Fprintf(w, "| phase | workers | requests | errors | req/s | p50 ms | p90 ms | p99 ms | max ms | CPU server | CPU load gen | CPU postgres | CPU machine (of %d) | server RSS max MiB | target | result |\n", runtime.NumCPU())
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|")
	var during int64
	for _, p := range r.phases {
		target, ok := p.check(p)
		fmt.Fprintf(w, "| %s | %d | %d | %d | %.0f | %s | %s | %s | %s | %.2f | %.2f | %.2f | %.2f | %s | %s | %s |\n",
			p.name, p.workers, p.count(), p.errors, p.rate(), ms(p.quantile(0.50)), ms(p.quantile(0.90)), ms(p.quantile(0.99)),
			ms(p.quantile(1)), p.cpu[0], p.cpu[1], p.cpu[2], p.cpu[3], mib(p.rssMax), target, passFail(ok))
		during = max(during, p.rssMax)
	}
	fmt.Fprintln(w)
	seedOK := r.seedTime < targetSeed
	settle := ""
	if r.engine == "postgres" {
		settle = ", with VACUUM ANALYZE and CHECKPOINT"
	}
	fmt.Fprintf(w, "- seeding: %d identities in %s (%.0f rows/s%s); target < %s: %s\n", r.cfg.Identities,
		r.seedTime.Round(time.Second), float64(r.cfg.Identities)/r.seedTime.Seconds(), settle, targetSeed, passFail(seedOK))
	memOK := during < targetRSS && r.rssAfter < targetRSS && r.hwm < targetRSS
	fmt.Fprintf(w, "- server memory: VmRSS at most %s MiB during the phases and %s MiB %s after them, VmHWM %s MiB; target < %s MiB: %s\n",
		mib(during), mib(r.rssAfter), idleAfter, mib(r.hwm), mib(targetRSS), passFail(memOK))
	for _, p := range r.phases {
		if p.firstErr != nil {
			fmt.Fprintf(w, "- %s: first error: %v\n", p.name, p.firstErr)
		}
	}
}
