package main

// Fault tests of the webhook deliveries: the receiver down for a minute,
// PostgreSQL restarted mid-delivery, a replica killed mid-delivery. In each,
// every created operation's notification must arrive for every
// subscription, and a notification sent twice must keep its id.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connops/connops/internal/pgtest"
)

// hookReceiver is a webhook endpoint that can go down and come back on the
// same address. It answers handshakes and records every notification.
type hookReceiver struct {
	t     *testing.T
	addr  string
	delay time.Duration // how long each notification POST takes

	mu       sync.Mutex
	srv      *http.Server
	byID     map[string]string // notification id -> subscription/operation
	byChange map[string]string // subscription/operation -> notification id
	received int               // notifications, duplicates included
	posts    int
	conflict []string // a change under two ids
}

func startHookReceiver(t *testing.T) *hookReceiver {
	t.Helper()
	rc := &hookReceiver{t: t, byID: map[string]string{}, byChange: map[string]string{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rc.addr = ln.Addr().String()
	rc.serve(ln)
	t.Cleanup(rc.down)
	return rc
}

func (rc *hookReceiver) url() string { return "http://" + rc.addr + "/hook" }

func (rc *hookReceiver) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(rc.handle), ReadHeaderTimeout: 5 * time.Second}
	rc.mu.Lock()
	rc.srv = srv
	rc.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// down closes the listener: connections are refused until up.
func (rc *hookReceiver) down() {
	rc.mu.Lock()
	srv := rc.srv
	rc.srv = nil
	rc.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

func (rc *hookReceiver) up() {
	rc.t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port may take a moment to be free again
		if ln, err = net.Listen("tcp", rc.addr); err == nil {
			rc.serve(ln)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	rc.t.Fatalf("listen on %s again: %v", rc.addr, err)
}

func (rc *hookReceiver) handle(w http.ResponseWriter, r *http.Request) {
	if token := r.URL.Query().Get("validationToken"); token != "" {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, token)
		return
	}
	var body struct {
		Value []struct {
			ID             string `json:"id"`
			SubscriptionID string `json:"subscriptionId"`
			ResourceData   struct {
				ID string `json:"id"`
			} `json:"resourceData"`
		} `json:"value"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	time.Sleep(rc.delay)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.posts++
	for _, n := range body.Value {
		rc.received++
		change := n.SubscriptionID + "/" + n.ResourceData.ID
		if prev, ok := rc.byChange[change]; ok && prev != n.ID {
			rc.conflict = append(rc.conflict, change)
		}
		rc.byChange[change] = n.ID
		rc.byID[n.ID] = change
	}
	w.WriteHeader(http.StatusAccepted)
}

// tally is what the receiver has: distinct notifications, all received,
// POSTs, and changes seen under two ids.
func (rc *hookReceiver) tally() (distinct, received, posts int, conflicts []string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.byChange), rc.received, rc.posts, append([]string(nil), rc.conflict...)
}

// has reports whether the receiver got the notification of op for sub.
func (rc *hookReceiver) has(sub, op string) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	_, ok := rc.byChange[sub+"/"+op]
	return ok
}

// subscribeAll creates n subscriptions to rc on the connection's operation
// creates.
func subscribeAll(t *testing.T, c apiClient, rc *hookReceiver, connectionID string, n int) []string {
	t.Helper()
	var ids []string
	for range n {
		body := fmt.Sprintf(`{"changeType":"created","notificationUrl":%q,"resource":"external/connections/%s/operations","expirationDateTime":%q}`,
			rc.url(), connectionID, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
		r := c.mustDo(t, http.StatusCreated, http.MethodPost, "/v1.0/subscriptions", body, nil)
		ids = append(ids, idOf(r.body))
	}
	return ids
}

// createdOperations are the operations of a connection the change log
// holds a create of: the truth every subscription must have heard.
func createdOperations(t *testing.T, dsn, connectionID string) []string {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), `SELECT resource_id FROM changes
		WHERE connection_id = $1 AND resource = 'operation' AND change_type = 'created' ORDER BY id`, connectionID)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// waitAllDelivered waits until every created operation's notification has
// arrived for every subscription, and returns how long that took.
func waitAllDelivered(t *testing.T, rc *hookReceiver, dsn, connectionID string, subs []string, within time.Duration) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	for {
		ops := createdOperations(t, dsn, connectionID)
		missing := 0
		for _, s := range subs {
			for _, op := range ops {
				if !rc.has(s, op) {
					missing++
				}
			}
		}
		if missing == 0 {
			return len(ops), time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("after %s, %d of %d notifications have not arrived", within, missing, len(ops)*len(subs))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// createSteadily creates operations on the connection at about rate per
// second until stop, counting the 201s.
func createSteadily(c apiClient, connectionID string, rate int, stop <-chan struct{}, acked *atomic.Int64) {
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		if r, err := c.do(http.MethodPost, operationsPath(connectionID), `{"status":"inprogress"}`, nil); err == nil && r.status == http.StatusCreated {
			acked.Add(1)
		}
	}
}

func webhookFaultEnv(more map[string]string) map[string]string {
	env := map[string]string{"WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true", "WEBHOOK_RETRY_MAX_DELAY": "5s", "WEBHOOK_LEASE": "5s"}
	for k, v := range more {
		env[k] = v
	}
	return env
}

// TestFaultWebhookReceiverDown: the receiver's port refuses connections for
// 60 s while operations are created, then it is back. Every notification
// arrives (at least once), and a resent one keeps its id.
func TestFaultWebhookReceiverDown(t *testing.T) {
	if testing.Short() {
		t.Skip("keeps a receiver down for 60 s")
	}
	dsn := pgtest.DSN(t)
	srv := startServe(t, testConfig(t, dsn, webhookFaultEnv(nil)))
	c := newClient(srv.base, devToken(t, "contoso", "hooks"), 30*time.Second)
	createConnection(t, c, "hookdown")
	rc := startHookReceiver(t)
	subs := subscribeAll(t, c, rc, "hookdown", 2)
	var acked atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { createSteadily(c, "hookdown", 20, stop, &acked); close(done) }()
	time.Sleep(2 * time.Second)
	rc.down()
	downAt := time.Now()
	time.Sleep(60 * time.Second)
	rc.up()
	downFor := time.Since(downAt)
	close(stop)
	<-done
	ops, took := waitAllDelivered(t, rc, dsn, "hookdown", subs, 60*time.Second)
	distinct, received, posts, conflicts := rc.tally()
	report(t, "subscriptions=%d operations-created=%d acked=%d receiver-down=%s notifications-distinct=%d received=%d duplicates=%d posts=%d all-arrived-after-back=%s ids-conflicting=%d",
		len(subs), ops, acked.Load(), downFor.Round(time.Second), distinct, received, received-distinct, posts,
		took.Round(time.Millisecond), len(conflicts))
	if distinct != ops*len(subs) || len(conflicts) != 0 {
		t.Errorf("distinct %d, want %d; changes under two ids: %v", distinct, ops*len(subs), conflicts)
	}
}

// TestFaultWebhookPostgresRestart crashes PostgreSQL while notifications
// are being delivered (each POST takes 100 ms) and restarts it: none is
// lost, and resent ones keep their ids.
func TestFaultWebhookPostgresRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts a PostgreSQL cluster")
	}
	cluster := pgtest.Cluster(t)
	dsn := cluster.DSN("postgres")
	srv := startServe(t, testConfig(t, dsn, webhookFaultEnv(nil)))
	c := newClient(srv.base, devToken(t, "contoso", "hooks"), 30*time.Second)
	createConnection(t, c, "hookpg")
	rc := startHookReceiver(t)
	rc.delay = 100 * time.Millisecond
	subs := subscribeAll(t, c, rc, "hookpg", 4)
	var acked atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { createSteadily(c, "hookpg", 50, stop, &acked); close(done) }()
	time.Sleep(3 * time.Second)
	_, before, _, _ := rc.tally()
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
	time.Sleep(3 * time.Second)
	close(stop)
	<-done
	ops, took := waitAllDelivered(t, rc, dsn, "hookpg", subs, 90*time.Second)
	distinct, received, posts, conflicts := rc.tally()
	report(t, "subscriptions=%d operations-created=%d acked=%d received-before-crash=%d notifications-distinct=%d received=%d duplicates=%d posts=%d all-arrived=%s-after-load ids-conflicting=%d",
		len(subs), ops, acked.Load(), before, distinct, received, received-distinct, posts, took.Round(time.Millisecond), len(conflicts))
	if before == 0 {
		t.Error("nothing was delivered before the crash: the crash was not mid-delivery")
	}
	if distinct != ops*len(subs) || len(conflicts) != 0 || int64(ops) < acked.Load() {
		t.Errorf("distinct %d, want %d (ops %d, acked %d); changes under two ids: %v", distinct, ops*len(subs), ops, acked.Load(), conflicts)
	}
}

var webhookWorkerLine = regexp.MustCompile(`"msg":"webhook delivery started","worker":"([^"]+)"`)

// TestFaultWebhookReplicaKilled: two replicas deliver to a slow receiver;
// the one holding claims is killed with SIGKILL mid-delivery. The other
// takes its subscriptions over once their leases lapse and delivers
// everything; what both sent keeps its id.
func TestFaultWebhookReplicaKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two replicas")
	}
	bin := buildBinary(t)
	dsn := pgtest.DSN(t)
	env := []string{"WEBHOOK_ALLOW_PRIVATE_NETWORKS=true", "WEBHOOK_LEASE=5s", "WEBHOOK_RETRY_MAX_DELAY=5s"}
	replicas := []*process{startProcess(t, bin, dsn, env...), startProcess(t, bin, dsn, env...)}
	workers := map[string]int{}
	for i, p := range replicas {
		m := webhookWorkerLine.FindStringSubmatch(p.logs.String())
		if m == nil {
			t.Fatalf("no webhook start line in replica %d's log", i)
		}
		workers[m[1]] = i
	}
	c0 := newClient(replicas[0].base, devToken(t, "contoso", "hooks"), 30*time.Second)
	createConnection(t, c0, "hookkill")
	rc := startHookReceiver(t)
	rc.delay = 300 * time.Millisecond
	subs := subscribeAll(t, c0, rc, "hookkill", 8)
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var acked atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	survivorClient := newClient(replicas[1].base, devToken(t, "contoso", "hooks"), 30*time.Second)
	go func() { createSteadily(survivorClient, "hookkill", 30, stop, &acked); close(done) }()

	// Once deliveries are well under way, kill replica 0 the first time it
	// is seen holding a claim, while it holds it.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, received, _, _ := rc.tally(); received >= 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("fewer than 100 notifications within 30 s")
		}
	}
	_, before, _, _ := rc.tally()
	victim, held := -1, 0
	deadline := time.Now().Add(30 * time.Second)
	for victim < 0 {
		rows, err := conn.Query(context.Background(), `SELECT claimed_by, count(*) FROM subscriptions
			WHERE claimed_by IS NOT NULL AND lease_until > now() GROUP BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		var by string
		var n int
		_, err = pgx.ForEachRow(rows, []any{&by, &n}, func() error {
			if i, ok := workers[by]; ok && i == 0 && victim < 0 {
				victim, held = i, n
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("replica 0 held no claim within 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := replicas[victim].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-replicas[victim].exited
	killedAt := time.Now()
	time.Sleep(3 * time.Second)
	close(stop)
	<-done
	ops, _ := waitAllDelivered(t, rc, dsn, "hookkill", subs, 60*time.Second)
	distinct, received, posts, conflicts := rc.tally()
	survivor := scrape(t, replicas[1].base)[`connops_webhook_notifications_total{outcome="delivered"}`]
	report(t, "replicas=2 subscriptions=%d killed=replica-%d claims-held-at-kill=%d received-before-kill=%d operations-created=%d notifications-distinct=%d received=%d duplicates=%d posts=%d delivered-by-survivor=%.0f all-arrived=%s-after-kill lease=5s ids-conflicting=%d",
		len(subs), victim, held, before, ops, distinct, received, received-distinct, posts, survivor, time.Since(killedAt).Round(time.Millisecond), len(conflicts))
	if distinct != ops*len(subs) || len(conflicts) != 0 {
		t.Errorf("distinct %d, want %d; changes under two ids: %v", distinct, ops*len(subs), conflicts)
	}
	if err := checkNoErrorLines(replicas[1].logs.String()); err != nil {
		t.Errorf("survivor: %v", err)
	}
}
