package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const (
	benchConnection = "bench"
	batchSize       = 20
	startupRuns     = 3
)

// bench is the state one run shares between its steps.
type bench struct {
	opts     options
	progress io.Writer
	db       *databases
	svc      *service
	probe    *cpuProbe
	admin    string // the service's pprof address, when profiling
	tenant   string
	token    string
	secret   string // the service's HS256 secret, for more tenants' tokens
	// spread is the tenants and connections of the spread create step.
	spread spread
}

func run(ctx context.Context, opts options, stdout, stderr io.Writer) (err error) {
	dir, removeDir, err := tempDir()
	if err != nil {
		return err
	}
	defer removeDir()
	binary := opts.binary
	if binary == "" {
		fmt.Fprintln(stderr, "building ./cmd/connops")
		if binary, err = buildService(ctx, dir); err != nil {
			return err
		}
	}
	db, err := openDatabases(ctx, opts.databaseURL, stderr)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, db.close()) }()

	b := &bench{opts: opts, progress: stderr, db: db, tenant: "benchtenant"}
	if opts.databaseURL != "" {
		// A tenant of its own keeps this run's rows apart from earlier ones.
		b.tenant += "-" + strconv.FormatInt(time.Now().Unix(), 36)
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	svcCfg := serviceConfig{binary: binary, databaseURL: db.serviceDSN, secret: hex.EncodeToString(secret), rateLimit: opts.rateLimit}
	b.secret = svcCfg.secret
	if b.token, err = issueToken(svcCfg.secret, b.tenant); err != nil {
		return err
	}
	if b.spread, err = newSpread(svcCfg.secret, b.tenant); err != nil {
		return err
	}
	if opts.cpuProfile != "" {
		if svcCfg.adminAddr, err = freeAddr(); err != nil {
			return err
		}
	}
	if b.svc, err = startService(svcCfg); err != nil {
		return err
	}
	stopped := false
	defer func() {
		if !stopped {
			err = errors.Join(err, b.svc.stop())
		}
	}()
	if err := b.svc.waitReady(ctx, 5*time.Minute); err != nil {
		return err
	}
	b.admin = svcCfg.adminAddr
	b.probe = &cpuProbe{service: b.svc.pid(), postmaster: db.postmaster}
	if err := b.prepare(ctx); err != nil {
		return err
	}
	if err := b.printHeader(ctx, stdout, binary); err != nil {
		return err
	}

	var creates []createRow
	if b.opts.runs("creates") {
		if creates, err = b.runCreates(ctx, singleSpread(tenant{id: b.tenant, token: b.token}), b.opts.cpuProfile); err != nil {
			return err
		}
		printCreates(stdout, "### Creates: service (HTTP POST .../operations) vs raw INSERT, same database server", creates)
		b.printMemory(stdout, creates)
	}

	if b.opts.runs("spread") {
		spreadCreates, err := b.runCreates(ctx, b.spread, withSuffix(b.opts.cpuProfile, "-spread"))
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout)
		printCreates(stdout, fmt.Sprintf("### Creates spread over %s (client i: tenant i%%%d, its connections round-robin per request): "+
			"service vs raw INSERT, same spread, same database server", b.spread.describe(), spreadTenants), spreadCreates)
		b.printMemory(stdout, spreadCreates)
	}

	if b.opts.runs("batches") {
		batches, err := b.runBatches(ctx, creates)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout)
		printBatches(stdout, batches)
	}

	if b.opts.runs("reads") {
		reads, err := b.runReads(ctx)
		if err != nil {
			return err
		}
		if len(reads) > 0 {
			fmt.Fprintf(stdout, "\n### Reads at %d clients\n\n", readClients)
			printReads(stdout, reads)
		}
	}

	if b.opts.runs("items") {
		puts, err := b.runItemPuts(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout)
		printWrites(stdout, "### Item PUTs (8 properties, 2 KB text content, 2 ACL entries, a new item each): "+
			"service (HTTP PUT .../items/{id}) vs raw INSERT ... ON CONFLICT DO UPDATE, same database server", itemNouns, puts)
		reads, err := b.runItemReads(ctx)
		if err != nil {
			return err
		}
		if len(reads) > 0 {
			fmt.Fprintf(stdout, "\n### Item reads at %d clients\n\n", readClients)
			printReadsOf(stdout, "stored items", "GET item", "GET first page of items ($top=50)", reads)
		}
	}

	if b.opts.runs("waiters") {
		fmt.Fprintf(stderr, "waiters: %d\n", b.opts.waiters)
		waiters, err := b.runWaiters(ctx, b.opts.waiters)
		if err != nil {
			return err
		}
		printWaiters(stdout, waiters)
	}

	if b.opts.runs("webhooks") && len(b.opts.webhookSubscriptions) > 0 {
		hooks, err := b.runWebhooks(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\n### Webhooks: notifications to a local receiver while %d clients create operations "+
			"(every subscription on the creates of one connection)\n\n", webhookClients)
		printWebhooks(stdout, hooks)
	}

	hwm, _ := memoryKB(b.svc.pid(), "VmHWM")
	lines, size := b.svc.logs.counts()
	stopped = true
	if err := b.svc.stop(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nservice peak RSS over the whole run (VmHWM): %s; service log: %d lines, %.1f MiB\n",
		fmtMiB(hwm), lines, float64(size)/(1<<20))

	if !b.opts.runs("startup") {
		return nil
	}
	fmt.Fprintln(stderr, "timing start-up")
	times, err := startupTimes(ctx, svcCfg, startupRuns)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	printStartup(stdout, times)
	return nil
}

// prepare creates the connections the creates go to, through the API, and
// their twins in the baseline database.
func (b *bench) prepare(ctx context.Context) error {
	for _, s := range []spread{singleSpread(tenant{id: b.tenant, token: b.token}), b.spread} {
		for _, t := range s.tenants {
			c := newAPIClients(b.svc.base, t.token, 1)[0]
			for _, id := range s.connections {
				if err := c.createConnection(ctx, id); err != nil {
					c.close()
					return err
				}
			}
			c.close()
		}
		if err := prepareRaw(ctx, b.db.rawDSN, s.targets()); err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) printHeader(ctx context.Context, w io.Writer, binary string) error {
	info, err := b.db.info(ctx)
	if err != nil {
		return err
	}
	pool := "service's default pool size"
	limiter := fmt.Sprintf("rate limiter on at RATE_LIMIT_RPS=%g (never rejects here)", b.opts.rateLimit)
	if b.opts.rateLimit == 0 {
		limiter = "rate limiter off"
	}
	dbCPU := "database CPU measured over the private cluster's processes"
	if b.db.postmaster == 0 {
		dbCPU = "database CPU not measured"
	}
	printMachine(w, machine{
		server:  info,
		command: "go run ./cmd/connops-bench " + strings.Join(b.opts.args, " "),
		load:    loadAverage(),
		features: fmt.Sprintf("HS256 bearer tokens verified per request, body validation, JSON request log at info, "+
			"Prometheus metrics (%s), %s", b.metricsState(ctx), limiter),
		service: fmt.Sprintf("separate process %s serve, LOG_LEVEL=info, %s; %s; steps %s warm-up + %s measured",
			binary, pool, dbCPU, b.opts.warmup, b.opts.duration),
	})
	return nil
}

// metricsState says whether /metrics answers, as evidence metrics are on.
func (b *bench) metricsState(ctx context.Context) string {
	c := newAPIClients(b.svc.base, b.token, 1)[0]
	defer c.close()
	body, err := c.call(ctx, http.MethodGet, "/metrics", nil, http.StatusOK, true)
	if err != nil {
		return "/metrics did not answer: " + err.Error()
	}
	samples := 0
	for _, line := range strings.Split(string(body), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			samples++
		}
	}
	return fmt.Sprintf("/metrics answers with %d samples", samples)
}

// runCreates runs one create comparison at every client count: creates
// through the service, then the baseline's inserts, both spread as s says.
// The step at the profiled client count is profiled into profilePath.
func (b *bench) runCreates(ctx context.Context, s spread, profilePath string) ([]createRow, error) {
	var rows []createRow
	for _, n := range b.opts.clients {
		row := createRow{clients: n}
		fmt.Fprintf(b.progress, "creates over %s: service, %d clients\n", s.describe(), n)
		clients := s.clients(b.svc.base, n)
		next := s.walker(n)
		spec := loadSpec{clients: n, warmup: b.opts.warmup, window: b.opts.duration, probe: b.probe,
			do: func(ctx context.Context, w int) (int, error) {
				return clients[w].createOperation(ctx, next(w).connection)
			},
		}
		if n == b.opts.profileClients {
			spec.during = func(ctx context.Context) {
				profiled := b.profile(ctx, profilePath)
				row.peakRSSKB = sampleRSS(ctx, b.svc.pid())
				if err := <-profiled; err != nil {
					fmt.Fprintln(b.progress, "warning: CPU profile:", err)
				}
			}
		}
		var err error
		row.service, err = drive(ctx, spec)
		closeAll(clients)
		if err != nil {
			return rows, err
		}
		if row.dbSessions, err = b.db.serviceConnections(ctx); err != nil {
			return rows, fmt.Errorf("count service sessions: %w", err)
		}
		fmt.Fprintf(b.progress, "creates over %s: raw, %d clients\n", s.describe(), n)
		row.raw, err = rawInserts(ctx, b.db.rawDSN, s,
			loadSpec{clients: n, warmup: b.opts.warmup, window: b.opts.duration, probe: b.probe})
		if err != nil {
			return rows, err
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// sampleRSS returns the largest VmRSS seen until ctx ends.
func sampleRSS(ctx context.Context, pid int) int64 {
	var peak int64
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if kb, err := memoryKB(pid, "VmRSS"); err == nil {
			peak = max(peak, kb)
		}
		select {
		case <-ctx.Done():
			return peak
		case <-tick.C:
		}
	}
}

func (b *bench) printMemory(w io.Writer, rows []createRow) {
	hwm, err := memoryKB(b.svc.pid(), "VmHWM")
	if err != nil {
		return
	}
	fmt.Fprintf(w, "\nservice peak RSS after the create steps (VmHWM): %s", fmtMiB(hwm))
	for _, r := range rows {
		if r.peakRSSKB > 0 {
			fmt.Fprintf(w, "; largest VmRSS sampled during the %d-client step: %s", r.clients, fmtMiB(r.peakRSSKB))
		}
	}
	fmt.Fprintln(w)
}

func fmtMiB(kb int64) string { return fmt.Sprintf("%.1f MiB", float64(kb)/1024) }

func (b *bench) runBatches(ctx context.Context, creates []createRow) ([]batchRow, error) {
	body := batchBody(benchConnection, batchSize)
	var rows []batchRow
	for _, n := range b.opts.batchClients {
		fmt.Fprintf(b.progress, "$batch: %d clients\n", n)
		clients := newAPIClients(b.svc.base, b.token, n)
		res, err := drive(ctx, loadSpec{clients: n, warmup: b.opts.warmup, window: b.opts.duration, probe: b.probe,
			do: func(ctx context.Context, w int) (int, error) {
				return clients[w].batch(ctx, body, batchSize)
			},
		})
		closeAll(clients)
		if err != nil {
			return rows, err
		}
		row := batchRow{clients: n, batch: res}
		for i := range creates {
			if creates[i].clients == n {
				row.single = &creates[i].service
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func (b *bench) runReads(ctx context.Context) ([]readResult, error) {
	var out []readResult
	for _, size := range b.opts.sizes {
		if b.opts.skipLarge && size >= largeSize {
			fmt.Fprintf(b.progress, "reads: skipping %d stored operations (-skip-large)\n", size)
			continue
		}
		r, err := measureReads(ctx, b, size)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}
