package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connops/connops/internal/pgtest"
)

// faultSchema is a small valid schema for the engine's fault tests.
const faultSchema = `{"baseType":"microsoft.graph.externalItem","properties":[
 {"name":"title","type":"String","isSearchable":true,"isRetrievable":true,"labels":["title"]}]}`

// process is connops serve run as a separate process, so it can be killed.
type process struct {
	cmd    *exec.Cmd
	base   string
	logs   *syncBuffer
	exited chan struct{}
}

func startProcess(t *testing.T, bin, dsn string, env ...string) *process {
	t.Helper()
	port := freeTCPPort(t)
	p := &process{base: "http://127.0.0.1:" + strconv.Itoa(port), logs: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, "serve")
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "DATABASE_URL=" + dsn,
		"LISTEN_ADDR=127.0.0.1:" + strconv.Itoa(port), "AUTH_HS256_SECRET=" + goodSecret, "RATE_LIMIT_RPS=0",
		"SHUTDOWN_DRAIN_DELAY=0s"}, env...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log of %s (tail):\n%s", p.base, tail(p.logs.String(), 6000))
		}
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.exited:
			case <-time.After(30 * time.Second):
				_ = p.cmd.Process.Kill()
				<-p.exited
			}
		}
	})
	waitReady(t, p.base, p.exited, 2*time.Minute)
	return p
}

var workerLine = regexp.MustCompile(`"msg":"engine started","worker":"([^"]+)"`)

// worker is the engine worker name the process logged.
func (p *process) worker(t *testing.T) string {
	t.Helper()
	m := workerLine.FindStringSubmatch(p.logs.String())
	if m == nil {
		t.Fatalf("no engine start line in the log of %s", p.base)
	}
	return m[1]
}

// engineOutcome is what the database holds once provisioning settles.
type engineOutcome struct {
	completed, onceOnly, ready, active, workLeft, reclaimed int
}

func readEngineOutcome(t *testing.T, conn *pgx.Conn) engineOutcome {
	t.Helper()
	var o engineOutcome
	// version 2: created at 1, finished exactly once.
	err := conn.QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM operations WHERE kind = 'schema' AND status = 'completed'),
		(SELECT count(*) FROM operations WHERE kind = 'schema' AND status = 'completed' AND version = 2),
		(SELECT count(*) FROM connections WHERE state = 'ready'),
		(SELECT count(*) FROM schema_versions WHERE state = 'active'),
		(SELECT count(*) FROM work_items), 0`).Scan(&o.completed, &o.onceOnly, &o.ready, &o.active, &o.workLeft, &o.reclaimed)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func waitProvisioned(t *testing.T, conn *pgx.Conn, n int, within time.Duration) (engineOutcome, time.Duration) {
	t.Helper()
	start := time.Now()
	for {
		o := readEngineOutcome(t, conn)
		if o.completed == n && o.workLeft == 0 {
			return o, time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("after %s: %+v, want %d completed and no work left", within, o, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// registerAll creates n connections and registers a schema on each, the
// requests spread over the replicas, all at once.
func registerAll(t *testing.T, bases []string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Ten connections a tenant, within the per-tenant quota.
			c := newClient(bases[i%len(bases)], devToken(t, fmt.Sprintf("tenant%d", i/10), "faults"), time.Minute)
			id := fmt.Sprintf("engine%03d", i)
			if r, err := c.do(http.MethodPost, "/v1.0/external/connections", fmt.Sprintf(`{"id":%q,"name":"n"}`, id), nil); err != nil || r.status != http.StatusCreated {
				errs <- fmt.Errorf("create %s: %v %d", id, err, r.status)
				return
			}
			if r, err := c.do(http.MethodPatch, "/v1.0/external/connections/"+id+"/schema", faultSchema, nil); err != nil || r.status != http.StatusAccepted {
				errs <- fmt.Errorf("register %s: %v %d %s", id, err, r.status, r.body)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestFaultEngineReplicaKilled: three replicas, 100 connections registering
// schemas at once, and one replica killed with SIGKILL while it holds
// claims. Every operation must end completed exactly once and every
// connection ready; the dead replica's claims are taken over once its
// lease lapses.
func TestFaultEngineReplicaKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three replicas")
	}
	bin := buildBinary(t)
	dsn := pgtest.DSN(t)
	const lease = 3 * time.Second
	env := []string{"PROVISIONING_DELAY=1s", "ENGINE_LEASE=" + lease.String(), "DATABASE_STATEMENT_TIMEOUT=30s"}
	replicas := []*process{startProcess(t, bin, dsn, env...), startProcess(t, bin, dsn, env...), startProcess(t, bin, dsn, env...)}
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	const n = 100
	registerAll(t, []string{replicas[0].base, replicas[1].base, replicas[2].base}, n)

	// Hold every connection row, so workers that claim their work block on
	// finishing it: the claims are then certainly held when the kill lands.
	hold, err := conn.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hold.Exec(context.Background(), `SELECT 1 FROM connections FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	workers := map[string]int{}
	for i, p := range replicas {
		workers[p.worker(t)] = i
	}
	var victim = -1
	var held int
	deadline := time.Now().Add(20 * time.Second)
	for victim < 0 {
		rows, err := conn.Query(context.Background(), `SELECT claimed_by, count(*) FROM work_items WHERE claimed_by IS NOT NULL GROUP BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		var by string
		var count int
		_, err = pgx.ForEachRow(rows, []any{&by, &count}, func() error {
			if i, ok := workers[by]; ok && victim < 0 {
				victim, held = i, count
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("no replica claimed work within 20 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Operations that came due while the others were still being registered
	// may have finished before the hold; the hold stops any more finishing,
	// so what the victim finished is known before it dies.
	finishedByVictim := scrape(t, replicas[victim].base)[`connops_engine_operations_finished_total{status="completed"}`]
	if err := replicas[victim].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-replicas[victim].exited
	if err := hold.Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	o, took := waitProvisioned(t, conn, n, time.Minute)
	// The survivors finished every operation the victim had not finished
	// before the hold, its claims included, and each exactly once.
	var finishedBySurvivors float64
	for i, p := range replicas {
		if i != victim {
			finishedBySurvivors += scrape(t, p.base)[`connops_engine_operations_finished_total{status="completed"}`]
		}
	}
	report(t, "replicas=3 connections=%d killed=replica-%d claims-held-at-kill=%d completed=%d exactly-once=%d finished-by-victim-before-hold=%.0f finished-by-survivors=%.0f ready=%d active-schemas=%d work-left=%d settled=%s-after-kill lease=%s",
		n, victim, held, o.completed, o.onceOnly, finishedByVictim, finishedBySurvivors, o.ready, o.active, o.workLeft, took.Round(time.Millisecond), lease)
	if o.completed != n || o.onceOnly != n || o.ready != n || o.active != n || finishedByVictim+finishedBySurvivors != n {
		t.Errorf("outcome %+v, finished by the victim before the hold %.0f and by survivors %.0f; want %d of each", o, finishedByVictim, finishedBySurvivors, n)
	}
	if held > 0 && took < lease/2 {
		t.Errorf("the dead replica's %d claims settled in %s, before its lease could lapse", held, took)
	}
	for i, p := range replicas {
		if i != victim {
			if err := checkNoErrorLines(p.logs.String()); err != nil {
				t.Errorf("replica %d: %v", i, err)
			}
		}
	}
}

// TestFaultEnginePostgresRestart restarts PostgreSQL while registrations
// wait for their delay: none is lost, each completes once.
func TestFaultEnginePostgresRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts a PostgreSQL cluster")
	}
	cluster := pgtest.Cluster(t)
	dsn := cluster.DSN("postgres")
	srv := startServe(t, testConfig(t, dsn, map[string]string{"PROVISIONING_DELAY": "3s", "ENGINE_LEASE": "2s"}))
	const n = 30
	registerAll(t, []string{srv.base}, n)
	if err := cluster.Crash(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	err := cluster.Restart(ctx)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	o, took := waitProvisioned(t, conn, n, time.Minute)
	report(t, "connections=%d completed=%d exactly-once=%d ready=%d active-schemas=%d work-left=%d settled-after-restart=%s",
		n, o.completed, o.onceOnly, o.ready, o.active, o.workLeft, took.Round(time.Millisecond))
	if o.completed != n || o.onceOnly != n || o.ready != n || o.active != n {
		t.Errorf("outcome %+v, want %d of each", o, n)
	}
}

// checkNoErrorLines fails on any ERROR log line.
func checkNoErrorLines(logs string) error {
	if lines := errorLines(logs, 5); lines != "" {
		return fmt.Errorf("error lines:\n%s", lines)
	}
	return nil
}
