// Command connops-bench measures connops end to end: it starts (or uses)
// PostgreSQL and the service, drives operation creates over real HTTP at
// several concurrencies, first all on one connection, then spread over 100
// connections of 10 tenants, runs the same durable inserts with the same
// spread straight against the database in the same run for comparison, then
// measures reads, $batch, item PUTs (against raw upserts) and item reads,
// waiting requests, webhook deliveries and start-up, and prints tables
// ready to paste into docs/performance.md.
//
//	go run ./cmd/connops-bench [-duration 5s] [-clients 1,8,32,64] [-sizes 10000,1000000] [-skip-large]
//	                           [-steps creates,spread,batches,reads,items,waiters,webhooks,startup] [-waiters 10000]
//	                           [-item-clients 1,8,32]
//	                           [-webhook-subscriptions 0,1,4]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are the command-line settings of one run.
type options struct {
	duration     time.Duration
	warmup       time.Duration
	clients      []int
	batchClients []int
	// itemClients are the client counts of the item PUT comparison.
	itemClients []int
	sizes       []int
	skipLarge   bool
	databaseURL string
	binary      string
	cpuProfile  string
	// profileClients is the client count of the create steps profiled.
	profileClients int
	rateLimit      float64
	// steps are the steps to run (allSteps by default); waiters is the
	// waiters step's count.
	steps   []string
	waiters int
	// webhookSubscriptions are the subscription counts of the webhooks
	// step; empty skips it.
	webhookSubscriptions []int
	args                 []string
}

// allSteps are the bench's steps, in the order they run.
var allSteps = []string{"creates", "spread", "batches", "reads", "items", "waiters", "webhooks", "startup"}

// runs reports whether the run includes step.
func (o options) runs(step string) bool { return slices.Contains(o.steps, step) }

// errUsage means the flag package already reported the problem.
var errUsage = errors.New("usage")

// largeSize is the smallest store size that -skip-large leaves out.
const largeSize = 100_000

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	opts, err := parseOptions(os.Args[1:], os.Stderr)
	if err != nil {
		stop()
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "connops-bench:", err)
		}
		os.Exit(2)
	}
	err = run(ctx, opts, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "connops-bench:", err)
		os.Exit(1)
	}
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("connops-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	opts := options{args: args}
	fs.DurationVar(&opts.duration, "duration", 5*time.Second, "measured time of each step")
	fs.DurationVar(&opts.warmup, "warmup", time.Second, "unmeasured warm-up before each step")
	clients := fs.String("clients", "1,8,32,64", "concurrent clients of the create steps")
	batchClients := fs.String("batch-clients", "8,32", "concurrent clients of the $batch steps")
	itemClients := fs.String("item-clients", "1,8,32", "concurrent clients of the item PUT step")
	sizes := fs.String("sizes", "10000,1000000", "stored operations, and stored items, for the read steps")
	hooks := fs.String("webhook-subscriptions", "0,1,4", "subscriptions of the webhooks step, one run per count (0: the same creates without any); empty skips it")
	fs.BoolVar(&opts.skipLarge, "skip-large", false, fmt.Sprintf("skip read sizes of %d or more", largeSize))
	fs.StringVar(&opts.databaseURL, "database-url", "", "use this PostgreSQL instead of a private cluster (DB CPU is then not measured)")
	fs.StringVar(&opts.binary, "binary", "", "prebuilt connops binary (default: go build ./cmd/connops)")
	fs.Float64Var(&opts.rateLimit, "rate-limit", 1e6, "the service's RATE_LIMIT_RPS and RATE_LIMIT_BURST: high, so the limiter runs but never rejects; 0 turns it off")
	fs.StringVar(&opts.cpuProfile, "cpuprofile", "", "write a CPU profile of the service during the single-connection create step at -profile-clients to this file, "+
		"of the spread step to the same name with -spread before the extension, and of the item PUTs at the most -item-clients with -items (via ADMIN_ADDR pprof)")
	steps := fs.String("steps", strings.Join(allSteps, ","), "steps to run, of "+strings.Join(allSteps, ","))
	fs.IntVar(&opts.waiters, "waiters", 10_000, "concurrent GETs with Prefer: wait held by the waiters step")
	fs.IntVar(&opts.profileClients, "profile-clients", 0, "client count of the create steps to profile and sample RSS in (default: the largest of -clients)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return opts, err
		}
		return opts, errUsage
	}
	var err error
	if opts.clients, err = parseInts(*clients); err != nil {
		return opts, fmt.Errorf("-clients: %w", err)
	}
	if opts.batchClients, err = parseInts(*batchClients); err != nil {
		return opts, fmt.Errorf("-batch-clients: %w", err)
	}
	if opts.itemClients, err = parseInts(*itemClients); err != nil {
		return opts, fmt.Errorf("-item-clients: %w", err)
	}
	if opts.sizes, err = parseInts(*sizes); err != nil {
		return opts, fmt.Errorf("-sizes: %w", err)
	}
	for _, st := range strings.Split(*steps, ",") {
		if st = strings.TrimSpace(st); st == "" {
			continue
		}
		if !slices.Contains(allSteps, st) {
			return opts, fmt.Errorf("-steps: %q is not one of %s", st, strings.Join(allSteps, ","))
		}
		opts.steps = append(opts.steps, st)
	}
	if opts.waiters < 1 {
		return opts, errors.New("-waiters must be positive")
	}
	if opts.webhookSubscriptions, err = parseCounts(*hooks); err != nil {
		return opts, fmt.Errorf("-webhook-subscriptions: %w", err)
	}
	if len(opts.clients) == 0 {
		return opts, errors.New("-clients needs at least one count")
	}
	if opts.profileClients == 0 {
		opts.profileClients = slices.Max(opts.clients)
	} else if !slices.Contains(opts.clients, opts.profileClients) {
		return opts, errors.New("-profile-clients must be one of -clients")
	}
	if opts.rateLimit < 0 {
		return opts, errors.New("-rate-limit must not be negative")
	}
	if opts.duration <= 0 || opts.warmup < 0 {
		return opts, errors.New("-duration must be positive and -warmup not negative")
	}
	return opts, nil
}

func parseInts(s string) ([]int, error) { return parseList(s, 1) }

// parseCounts is parseInts with 0 allowed.
func parseCounts(s string) ([]int, error) { return parseList(s, 0) }

func parseList(s string, least int) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		n, err := strconv.Atoi(part)
		if err != nil || n < least {
			if least == 0 {
				return nil, fmt.Errorf("%q is not a non-negative integer", part)
			}
			return nil, fmt.Errorf("%q is not a positive integer", part)
		}
		out = append(out, n)
	}
	return out, nil
}
