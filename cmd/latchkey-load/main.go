// Command latchkey-load is Latchkey's load benchmark. It starts
// `latchkey serve` as a separate process on each engine, seeds a realm with
// identities, drives the HTTP API and prints a Markdown table per engine for
// BENCHMARKS.md. It only wires flags into internal/loadtest.
//
//	go run ./cmd/latchkey-load -engine both -identities 1000000
//	go run ./cmd/latchkey-load -engine postgres -phases lookup -keep /var/tmp/latchkey-load
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/latchkey/latchkey/internal/loadtest"
)

func main() {
	cfg := loadtest.Config{Out: os.Stdout, Log: os.Stderr}
	engine := flag.String("engine", "both", "sqlite, postgres or both")
	flag.StringVar(&cfg.Bin, "bin", "", "latchkey binary to run (default: go build one into a temporary directory)")
	flag.StringVar(&cfg.Suite, "suite", "api", "api (management API identity phases) or scim (SCIM create, filter and group PATCH phases)")
	flag.IntVar(&cfg.Identities, "identities", 1_000_000, "identities seeded into the realm that lookups and pages read")
	flag.IntVar(&cfg.Concurrency, "concurrency", 32, "concurrent workers per phase")
	flag.IntVar(&cfg.LatencyConcurrency, "latency-concurrency", 1, "workers of a second, unsaturated run of each read phase (0: none)")
	flag.DurationVar(&cfg.Duration, "duration", 20*time.Second, "length of each phase")
	phases := flag.String("phases", "", "comma-separated phases of the suite to run (default all): api create,lookup,walk,skip; scim create,filter,patch,patch-big")
	flag.StringVar(&cfg.Keep, "keep", "", "directory that keeps each engine's data directory and database after the run; a later run with the same -keep reuses the seeded identities")
	flag.StringVar(&cfg.PostgresDSN, "postgres", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
		"PostgreSQL server on which a scratch database is created and dropped")
	flag.Parse()
	switch *engine {
	case "sqlite", "postgres":
		cfg.Engines = []string{*engine}
	case "both":
		cfg.Engines = []string{"sqlite", "postgres"}
	default:
		fmt.Fprintln(os.Stderr, "latchkey-load: -engine must be sqlite, postgres or both")
		os.Exit(2)
	}
	if *phases != "" {
		cfg.Phases = strings.Split(*phases, ",")
	}
	if flag.NArg() > 0 || (cfg.Suite != "api" && cfg.Suite != "scim") || cfg.Identities < 1 || cfg.Concurrency < 1 || cfg.Duration <= 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := loadtest.CheckPhases(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "latchkey-load:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := loadtest.Run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "latchkey-load:", err)
		os.Exit(1)
	}
}
