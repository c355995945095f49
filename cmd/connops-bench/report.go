package main

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// table prints as a Markdown table with padded columns, so it reads well in
// a terminal and pastes into docs/performance.md as is.
type table struct {
	header []string
	rows   [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) print(w io.Writer) {
	widths := make([]int, len(t.header))
	for _, row := range append([][]string{t.header}, t.rows...) {
		for i, c := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		b.WriteString("|")
		for i, c := range cells {
			fmt.Fprintf(&b, " %s%s |", c, strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)))
		}
		fmt.Fprintln(w, b.String())
	}
	line(t.header)
	rule := make([]string, len(widths))
	for i, n := range widths {
		rule[i] = strings.Repeat("-", n)
	}
	line(rule)
	for _, r := range t.rows {
		line(r)
	}
}

func fmtRate(f float64) string { return fmt.Sprintf("%.0f", f) }

func fmtMS(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

func fmtRatio(f float64) string { return fmt.Sprintf("%.2f", f) }

// fmtPer is CPU time per unit of work, in microseconds.
func fmtPer(cpu time.Duration, units int, known bool) string {
	if !known || units == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f", float64(cpu)/float64(time.Microsecond)/float64(units))
}

func fmtErrors(r stepResult) string { return fmt.Sprint(r.errors) }

// machine is what the report says about where it ran.
type machine struct {
	server   serverInfo
	command  string
	load     string
	service  string
	features string
}

func printMachine(w io.Writer, m machine) {
	fmt.Fprintf(w, "## connops-bench, %s\n\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "- machine: %d CPUs (nproc), %s; load average at start %s\n", runtime.NumCPU(), cpuModel(), m.load)
	fmt.Fprintf(w, "- Go: %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "- PostgreSQL: %s\n", m.server.version)
	fmt.Fprintf(w, "- settings: fsync=%s, synchronous_commit=%s, wal_sync_method=%s, shared_buffers=%s\n",
		m.server.fsync, m.server.synchronousCommit, m.server.walSyncMethod, m.server.sharedBuffers)
	fmt.Fprintf(w, "- service: %s\n", m.service)
	fmt.Fprintf(w, "- features on: %s\n", m.features)
	fmt.Fprintf(w, "- command: %s\n\n", m.command)
}

// createRow is one concurrency of the create comparison.
type createRow struct {
	clients    int
	service    stepResult
	raw        stepResult
	dbSessions int
	peakRSSKB  int64 // sampled VmRSS during this step; 0 if not sampled
}

// writeNouns name what a write comparison counts on each side.
type writeNouns struct{ service, services, raw, raws string }

var (
	createNouns = writeNouns{"create", "creates", "insert", "inserts"}
	itemNouns   = writeNouns{"PUT", "PUTs", "upsert", "upserts"}
)

func printCreates(w io.Writer, title string, rows []createRow) {
	printWrites(w, title, createNouns, rows)
}

func printWrites(w io.Writer, title string, n writeNouns, rows []createRow) {
	fmt.Fprintln(w, title)
	fmt.Fprintln(w)
	t := table{header: []string{"clients", "service " + n.services + "/s", "p50 ms", "p99 ms",
		"raw " + n.raws + "/s", "raw p50 ms", "raw p99 ms", "service/raw",
		"service CPU µs/" + n.service, "DB CPU µs/" + n.service + " (service)", "DB CPU µs/" + n.raw + " (raw)", "errors svc/raw"}}
	for _, r := range rows {
		t.add(fmt.Sprint(r.clients), fmtRate(r.service.rate()), fmtMS(r.service.p50), fmtMS(r.service.p99),
			fmtRate(r.raw.rate()), fmtMS(r.raw.p50), fmtMS(r.raw.p99), fmtRatio(r.service.rate()/max(r.raw.rate(), 1e-9)),
			fmtPer(r.service.cpu.service, r.service.units, true),
			fmtPer(r.service.cpu.db, r.service.units, r.service.cpu.dbKnown),
			fmtPer(r.raw.cpu.db, r.raw.units, r.raw.cpu.dbKnown),
			fmt.Sprintf("%d/%d", r.service.errors, r.raw.errors))
	}
	t.print(w)
	fmt.Fprintln(w)

	fmt.Fprintln(w, "Where the CPU went (µs per "+n.service+"; bench = this process: load generator and log sink; cores busy = all three ÷ wall time)")
	fmt.Fprintln(w)
	c := table{header: []string{"clients", "run", "service µs", "DB µs", "bench µs", "total µs", "cores busy", "service DB sessions"}}
	for _, r := range rows {
		s, raw := r.service, r.raw
		c.add(fmt.Sprint(r.clients), "service", fmtPer(s.cpu.service, s.units, true), fmtPer(s.cpu.db, s.units, s.cpu.dbKnown),
			fmtPer(s.cpu.bench, s.units, true), fmtPer(s.cpu.service+s.cpu.db+s.cpu.bench, s.units, s.cpu.dbKnown),
			coresBusy(s.cpu.service+s.cpu.db+s.cpu.bench, s.cpu.wall), fmt.Sprint(r.dbSessions))
		c.add(fmt.Sprint(r.clients), "raw", "-", fmtPer(raw.cpu.db, raw.units, raw.cpu.dbKnown),
			fmtPer(raw.cpu.bench, raw.units, true), fmtPer(raw.cpu.db+raw.cpu.bench, raw.units, raw.cpu.dbKnown),
			coresBusy(raw.cpu.db+raw.cpu.bench, raw.cpu.wall), fmt.Sprint(r.clients))
	}
	c.print(w)
	printFirstErrors(w, rows)
}

func coresBusy(cpu, wall time.Duration) string {
	if wall <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", cpu.Seconds()/wall.Seconds())
}

func printFirstErrors(w io.Writer, rows []createRow) {
	for _, r := range rows {
		if r.service.firstErr != nil {
			fmt.Fprintf(w, "\nfirst service error at %d clients: %v\n", r.clients, r.service.firstErr)
		}
		if r.raw.firstErr != nil {
			fmt.Fprintf(w, "\nfirst raw error at %d clients: %v\n", r.clients, r.raw.firstErr)
		}
	}
}

// batchRow is one concurrency of the $batch step.
type batchRow struct {
	clients int
	batch   stepResult
	single  *stepResult // the single-create step at the same concurrency, if run
}

func printBatches(w io.Writer, rows []batchRow) {
	fmt.Fprintf(w, "### $batch of %d creates (POST /v1.0/$batch)\n\n", batchSize)
	t := table{header: []string{"clients", "batches/s", "creates/s", "batch p50 ms", "batch p99 ms",
		"single creates/s", "$batch/single", "service CPU µs/create", "DB CPU µs/create", "errors"}}
	for _, r := range rows {
		single, vs := "n/a", "n/a"
		if r.single != nil {
			single, vs = fmtRate(r.single.rate()), fmtRatio(r.batch.rate()/max(r.single.rate(), 1e-9))
		}
		t.add(fmt.Sprint(r.clients), fmtRate(r.batch.requestRate()), fmtRate(r.batch.rate()),
			fmtMS(r.batch.p50), fmtMS(r.batch.p99), single, vs,
			fmtPer(r.batch.cpu.service, r.batch.units, true), fmtPer(r.batch.cpu.db, r.batch.units, r.batch.cpu.dbKnown),
			fmtErrors(r.batch))
	}
	t.print(w)
	printBatchVsSingle(w, rows)
	for _, r := range rows {
		if r.batch.firstErr != nil {
			fmt.Fprintf(w, "\nfirst $batch error at %d clients: %v\n", r.clients, r.batch.firstErr)
		}
	}
}

// printBatchVsSingle spells out, per concurrency, the comparison the $batch
// target is stated in: inner creates per second of batches of batchSize
// against single creates on the same connection at the same client count.
func printBatchVsSingle(w io.Writer, rows []batchRow) {
	fmt.Fprintln(w)
	for _, r := range rows {
		if r.single == nil {
			fmt.Fprintf(w, "$batch/single at %d clients: n/a (no single-create step at %d clients)\n", r.clients, r.clients)
			continue
		}
		fmt.Fprintf(w, "$batch/single at %d clients: %s operations/s in batches of %d against %s single creates/s = %s\n",
			r.clients, fmtRate(r.batch.rate()), batchSize, fmtRate(r.single.rate()), fmtRatio(r.batch.rate()/max(r.single.rate(), 1e-9)))
	}
}

func printStartup(w io.Writer, times []time.Duration) {
	if len(times) == 0 {
		return
	}
	sorted := append([]time.Duration(nil), times...)
	slices.Sort(sorted)
	fmt.Fprintf(w, "### Start-up to ready (exec to first 200 on /readyz, migrated database, %d runs)\n\n", len(times))
	fmt.Fprintf(w, "min %s ms, median %s ms (all: %s)\n", fmtMS(sorted[0]), fmtMS(sorted[len(sorted)/2]), fmtDurations(times))
}

func fmtDurations(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = fmtMS(d)
	}
	return strings.Join(parts, ", ") + " ms"
}
