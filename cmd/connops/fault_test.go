package main

// Fault tests: the database crashes under load, the process is stopped with
// SIGTERM under load, and replicas start together on an empty database. Each
// prints its figures (requests, acknowledged 201s, stored rows, 503s, other
// failures, recovery time) through report.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connops/connops/internal/pgtest"
	"github.com/connops/connops/internal/postgres"
)

const (
	loadClients  = 16
	keyedClients = 4 // of loadClients: retry each create with its Idempotency-Key until 201
)

// TestFaultDatabaseCrashDuringCreates crashes PostgreSQL (immediate stop, no
// checkpoint) while 16 clients create operations over HTTP, then restarts it
// on the same port. Every 201 must be stored; every failure must be a 503
// with an integer Retry-After and a Graph envelope, answered without hanging;
// creates must succeed again within 5 s of the restart.
func TestFaultDatabaseCrashDuringCreates(t *testing.T) {
	if testing.Short() {
		t.Skip("crashes and restarts a PostgreSQL cluster under load")
	}
	cluster := pgtest.Cluster(t)
	dsn := cluster.DSN("postgres")
	cfg := testConfig(t, dsn, map[string]string{"REQUEST_TIMEOUT": "5s"})
	srv := startServe(t, cfg)
	client := newClient(srv.base, devToken(t, "contoso", "loader"), cfg.RequestTimeout+30*time.Second)
	createConnection(t, client, "crashplain")
	createConnection(t, client, "crashkeyed")

	var rec recorder
	var stop atomic.Bool
	var wg sync.WaitGroup
	for i := range loadClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i < keyedClients {
				keyedWorker(client, &rec, &stop, fmt.Sprintf("crash-%d", i), operationsPath("crashkeyed"))
			} else {
				plainWorker(client, &rec, &stop, operationsPath("crashplain"))
			}
		}()
	}
	loadStart := time.Now()
	time.Sleep(1500 * time.Millisecond)
	crashAt := time.Now()
	if err := cluster.Crash(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	restartCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
	err := cluster.Restart(restartCtx)
	cancel()
	if err != nil {
		stop.Store(true)
		wg.Wait()
		t.Fatalf("restart: %v", err)
	}
	restartedAt := time.Now()
	// Keep the load on past the 5 s recovery bound, so a slow recovery is
	// measured rather than cut short.
	time.Sleep(7 * time.Second)
	stop.Store(true)
	wg.Wait()
	all := rec.snapshot()

	recovery := time.Duration(-1)
	var before, during, after503 int
	for _, o := range all {
		if o.status == http.StatusCreated && !o.start.Before(restartedAt) {
			if d := o.end.Sub(restartedAt); recovery < 0 || d < recovery {
				recovery = d
			}
		}
		if o.status == http.StatusServiceUnavailable {
			switch {
			case o.start.Before(crashAt):
				before++
			case o.start.Before(restartedAt):
				during++
			default:
				after503++
			}
		}
	}
	tl := tally(all)
	plainStored, keyed := storedAfterCrash(t, dsn)
	var replays int
	for _, o := range all {
		if o.replayed {
			replays++
		}
	}
	report(t, "requests=%d acknowledged201=%d stored=%d (plain %d, keyed %d) 503s=%d (before crash %d, outage %d, after restart %d) 5xx-other=%d other-status=%d transport-errors=%d replays-after-retry=%d max-latency=%s outage=%s recovery=%s load=%s",
		tl.requests, tl.acked, len(plainStored)+len(keyed.opIDs), len(plainStored), len(keyed.opIDs),
		tl.unavailable, before, during, after503, tl.serverErrors, tl.otherStatus, tl.transport, replays,
		tl.maxLatency.Round(time.Millisecond), restartedAt.Sub(crashAt).Round(time.Millisecond),
		recovery.Round(time.Millisecond), time.Since(loadStart).Round(time.Millisecond))

	if tl.serverErrors > 0 || tl.otherStatus > 0 || tl.transport > 0 {
		t.Errorf("%d 5xx other than 503, %d other statuses, %d transport errors; first: %v",
			tl.serverErrors, tl.otherStatus, tl.transport, firstErrors(all, 5))
	}
	if tl.unavailable == 0 {
		t.Error("no 503 during the outage: the crash did not reach the requests")
	}
	if tl.badUnavailable > 0 {
		t.Errorf("%d 503s lacked an integer Retry-After or the Graph error envelope", tl.badUnavailable)
	}
	if limit := cfg.RequestTimeout + 5*time.Second; tl.maxLatency > limit {
		t.Errorf("slowest request took %s, want at most REQUEST_TIMEOUT + 5s = %s", tl.maxLatency, limit)
	}
	if recovery < 0 {
		t.Error("no create succeeded after the restart")
	} else if recovery > 5*time.Second {
		t.Errorf("creates succeeded again %s after the restart, want within 5s", recovery)
	}
	checkAckedStored(t, all, plainStored, keyed)
}

// plainWorker creates operations without a key until stop, pausing briefly
// after a failure so an outage does not turn into a busy loop.
func plainWorker(c apiClient, rec *recorder, stop *atomic.Bool, path string) {
	for !stop.Load() {
		o := post(c, path, `{"status":"inprogress"}`, "")
		rec.add(o)
		if o.status != http.StatusCreated {
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// keyedWorker retries each create with its own Idempotency-Key until it is
// answered 201, as a careful client does, then moves to the next key.
func keyedWorker(c apiClient, rec *recorder, stop *atomic.Bool, prefix, path string) {
	for n := 0; !stop.Load(); n++ {
		key := fmt.Sprintf("%s-%d", prefix, n)
		for !stop.Load() {
			o := post(c, path, `{"status":"inprogress"}`, key)
			rec.add(o)
			if o.status == http.StatusCreated || (o.status >= 400 && o.status < 500) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// keyedRows is what the keyed clients left in the database.
type keyedRows struct {
	opIDs      map[string]bool   // operations on the keyed connection
	resultByKy map[string]string // Idempotency-Key -> id of the operation it recorded
}

func storedAfterCrash(t *testing.T, dsn string) (plain map[string]bool, keyed keyedRows) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	ids := func(sql string) map[string]bool {
		rows, err := conn.Query(ctx, sql)
		if err != nil {
			t.Fatal(err)
		}
		list, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		set := make(map[string]bool, len(list))
		for _, id := range list {
			set[id] = true
		}
		return set
	}
	plain = ids(`SELECT id FROM operations WHERE connection_id = 'crashplain'`)
	keyed.opIDs = ids(`SELECT id FROM operations WHERE connection_id = 'crashkeyed'`)
	keyed.resultByKy = map[string]string{}
	rows, err := conn.Query(ctx, `SELECT key, coalesce(result->>'id', '') FROM idempotency_keys`)
	if err != nil {
		t.Fatal(err)
	}
	var k, id string
	if _, err := pgx.ForEachRow(rows, []any{&k, &id}, func() error { keyed.resultByKy[k] = id; return nil }); err != nil {
		t.Fatal(err)
	}
	return plain, keyed
}

// checkAckedStored asserts every acknowledged create is stored, and that the
// keyed clients' retries made exactly one row per key.
func checkAckedStored(t *testing.T, all []outcome, plain map[string]bool, keyed keyedRows) {
	t.Helper()
	var missing []string
	ackedKeys := map[string]string{}
	for _, o := range all {
		if o.status != http.StatusCreated {
			continue
		}
		if o.key == "" {
			if !plain[o.id] {
				missing = append(missing, o.id)
			}
			continue
		}
		if prev, ok := ackedKeys[o.key]; ok && prev != o.id {
			t.Errorf("key %s answered two ids: %s and %s", o.key, prev, o.id)
		}
		ackedKeys[o.key] = o.id
		if !keyed.opIDs[o.id] {
			missing = append(missing, o.id)
		}
		if keyed.resultByKy[o.key] != o.id {
			t.Errorf("key %s answered %s but recorded %q", o.key, o.id, keyed.resultByKy[o.key])
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d acknowledged creates are not in the database, e.g. %v", len(missing), missing[:min(5, len(missing))])
	}
	// Each keyed row belongs to exactly one key: retries made no duplicates.
	recorded := map[string]bool{}
	for _, id := range keyed.resultByKy {
		if id != "" {
			recorded[id] = true
		}
	}
	for id := range keyed.opIDs {
		if !recorded[id] {
			t.Errorf("operation %s on the keyed connection is recorded by no Idempotency-Key: a duplicate", id)
		}
	}
	if len(recorded) != len(keyed.opIDs) {
		t.Errorf("%d keys recorded an operation but %d keyed operations are stored", len(recorded), len(keyed.opIDs))
	}
}

// TestFaultSIGTERMDuringCreates builds the binary, serves with it, and sends
// SIGTERM in the middle of a create load: the process must exit 0 within
// SHUTDOWN_TIMEOUT, every 201 must be stored, and no request it accepted may
// end in a 5xx. Refused connections after the listener closed are expected.
func TestFaultSIGTERMDuringCreates(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs it under load")
	}
	bin := buildBinary(t)
	dsn := pgtest.DSN(t)
	port := freeTCPPort(t)
	const shutdownTimeout = 10 * time.Second
	var logs syncBuffer
	cmd := exec.Command(bin, "serve")
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"DATABASE_URL=" + dsn,
		"LISTEN_ADDR=127.0.0.1:" + strconv.Itoa(port),
		"AUTH_HS256_SECRET=" + goodSecret,
		"SHUTDOWN_TIMEOUT=" + shutdownTimeout.String(),
		"REQUEST_TIMEOUT=5s",
		"RATE_LIMIT_RPS=0",
	}
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("connops log (tail):\n%s", tail(logs.String(), 6000))
		}
	})

	base := "http://127.0.0.1:" + strconv.Itoa(port)
	waitReady(t, base, exited, 2*time.Minute)
	client := newClient(base, devToken(t, "contoso", "loader"), 30*time.Second)
	createConnection(t, client, "sigterm")

	var rec recorder
	var wg sync.WaitGroup
	var stop atomic.Bool
	for range loadClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				o := post(client, operationsPath("sigterm"), `{"status":"inprogress"}`, "")
				rec.add(o)
				if o.err != nil {
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	// Readiness is polled on its own connections throughout; best effort,
	// because the process closes its listener right after turning not ready.
	var ready503 atomic.Int64
	var sigAt atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		probe := newClient(base, "", 2*time.Second)
		for !stop.Load() {
			r, err := probe.do(http.MethodGet, "/readyz", "", nil)
			if err == nil && r.status == http.StatusServiceUnavailable && sigAt.Load() != 0 {
				ready503.Add(1)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()

	time.Sleep(1500 * time.Millisecond)
	sent := time.Now()
	sigAt.Store(sent.UnixNano())
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var exitAfter time.Duration
	select {
	case <-exited:
		exitAfter = time.Since(sent)
	case <-time.After(shutdownTimeout + 20*time.Second):
		t.Errorf("connops did not exit within SHUTDOWN_TIMEOUT (%s) + 20s of SIGTERM", shutdownTimeout)
		_ = cmd.Process.Kill()
		<-exited
	}
	// Let the clients see the closed listener for a moment, then stop them.
	time.Sleep(300 * time.Millisecond)
	stop.Store(true)
	wg.Wait()

	all := rec.snapshot()
	tl := tally(all)
	var transportBefore, refusedAfter int
	for _, o := range all {
		if o.err == nil {
			continue
		}
		if o.start.Before(sent) {
			transportBefore++
		} else {
			refusedAfter++
		}
	}
	stored := storedIDs(t, dsn, "sigterm")
	exitCode := cmd.ProcessState.ExitCode()
	report(t, "requests=%d acknowledged201=%d stored=%d 503s=%d 5xx-other=%d other-status=%d refused/closed-after-SIGTERM=%d transport-errors-before-SIGTERM=%d readyz-503-seen=%d exit-code=%d exit-after-SIGTERM=%s max-latency=%s",
		tl.requests, tl.acked, len(stored), tl.unavailable, tl.serverErrors, tl.otherStatus, refusedAfter, transportBefore,
		ready503.Load(), exitCode, exitAfter.Round(time.Millisecond), tl.maxLatency.Round(time.Millisecond))

	if waitErr != nil || exitCode != 0 {
		t.Errorf("connops exited with %v (code %d), want 0", waitErr, exitCode)
	}
	if exitAfter > shutdownTimeout+5*time.Second {
		t.Errorf("exit took %s after SIGTERM, want at most SHUTDOWN_TIMEOUT + 5s", exitAfter)
	}
	if tl.unavailable+tl.serverErrors+tl.otherStatus > 0 {
		t.Errorf("accepted requests failed: %d 503s, %d other 5xx, %d other statuses; first: %v",
			tl.unavailable, tl.serverErrors, tl.otherStatus, firstErrors(all, 5))
	}
	if transportBefore > 0 {
		t.Errorf("%d requests failed in transport before SIGTERM; first: %v", transportBefore, firstErrors(all, 5))
	}
	var missing int
	for id := range tl.acceptedIDs {
		if !stored[id] {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d acknowledged creates are not stored", missing)
	}
	if !strings.Contains(logs.String(), `"msg":"stopped"`) {
		t.Error(`connops did not log "stopped": shutdown did not complete cleanly`)
	}
}

func storedIDs(t *testing.T, dsn, connectionID string) map[string]bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT id FROM operations WHERE connection_id = $1`, connectionID)
	if err != nil {
		t.Fatal(err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	set := make(map[string]bool, len(list))
	for _, id := range list {
		set[id] = true
	}
	return set
}

// buildBinary compiles ./cmd/connops from the module root into a temp dir.
func buildBinary(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		t.Fatal("not inside a Go module")
	}
	bin := filepath.Join(t.TempDir(), "connops")
	build := exec.Command("go", "build", "-o", bin, "./cmd/connops")
	build.Dir = filepath.Dir(gomod)
	if msg, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, msg)
	}
	return bin
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitReady polls /readyz until it answers 200.
func waitReady(t *testing.T, base string, exited <-chan struct{}, within time.Duration) {
	t.Helper()
	probe := newClient(base, "", 2*time.Second)
	deadline := time.Now().Add(within)
	for {
		r, err := probe.do(http.MethodGet, "/readyz", "", nil)
		if err == nil && r.status == http.StatusOK {
			return
		}
		select {
		case <-exited:
			t.Fatal("connops exited before it was ready")
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/readyz not 200 within %s (last: %v %d)", base, within, err, r.status)
		}
	}
}

// TestFaultReplicasStartTogether starts three replicas at the same moment on
// an empty database: all must become ready, each migration must be applied
// once, and none may log an error.
func TestFaultReplicasStartTogether(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three servers on a database")
	}
	dsn := pgtest.EmptyDSN(t)
	const replicas = 3
	type replica struct {
		logs   syncBuffer
		addr   chan string
		done   chan error
		cancel context.CancelFunc
	}
	start := make(chan struct{})
	rs := make([]*replica, replicas)
	began := time.Now()
	for i := range rs {
		ctx, cancel := context.WithCancel(context.Background())
		r := &replica{addr: make(chan string, 1), done: make(chan error, 1), cancel: cancel}
		rs[i] = r
		cfg := testConfig(t, dsn, nil)
		go func() {
			<-start
			r.done <- serve(ctx, cfg, newLogger(&r.logs, slog.LevelInfo), func(a string) { r.addr <- a })
		}()
	}
	t.Cleanup(func() {
		for _, r := range rs {
			r.cancel()
		}
	})
	close(start)

	bases := make([]string, replicas)
	for i, r := range rs {
		select {
		case a := <-r.addr:
			bases[i] = "http://" + a
		case err := <-r.done:
			t.Fatalf("replica %d stopped before listening: %v\n%s", i, err, r.logs.String())
		case <-time.After(3 * time.Minute):
			t.Fatalf("replica %d did not listen within 3 minutes\n%s", i, r.logs.String())
		}
	}
	listening := time.Since(began)
	for i, b := range bases {
		res, err := http.Get(b + "/readyz")
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("replica %d /readyz = %d", i, res.StatusCode)
		}
	}

	latest, err := postgres.LatestVersion()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var rows, distinct int64
	if err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT version_id) FROM goose_db_version WHERE version_id > 0`).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}

	applied := make([]int, replicas)
	errorLines := 0
	for i, r := range rs {
		r.cancel()
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("replica %d returned %v", i, err)
			}
		case <-time.After(time.Minute):
			t.Errorf("replica %d did not stop", i)
		}
		logs := r.logs.String()
		applied[i] = strings.Count(logs, `"msg":"migration applied"`)
		errorLines += strings.Count(logs, `"level":"ERROR"`)
		if strings.Contains(logs, `"level":"ERROR"`) {
			t.Errorf("replica %d logged errors:\n%s", i, logs)
		}
	}
	total := applied[0] + applied[1] + applied[2]
	report(t, "replicas=%d all-ready=%s migrations=%d goose-rows=%d distinct=%d applied-per-replica=%v error-lines=%d",
		replicas, listening.Round(time.Millisecond), latest, rows, distinct, applied, errorLines)
	if rows != latest || distinct != latest {
		t.Errorf("goose_db_version has %d rows for %d versions, want %d each", rows, distinct, latest)
	}
	if int64(total) != latest {
		t.Errorf("replicas logged %d applied migrations in total, want %d (each once)", total, latest)
	}
}
