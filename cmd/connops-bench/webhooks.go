package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// The webhooks step: subscriptions on one connection's operation creates,
// a fast local receiver, creates driven as in the create steps; then every
// notification is matched with its change's time in the log.

// webhookClients is the create concurrency of the webhooks step.
const webhookClients = 32

// benchReceiver answers every notification 202 at once and notes when each
// arrived, by subscription and operation.
type benchReceiver struct {
	url  string
	srv  *http.Server
	mu   sync.Mutex
	at   map[[2]string]time.Time // first arrival
	dups int
	post int
}

func startBenchReceiver() (*benchReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &benchReceiver{url: "http://" + ln.Addr().String() + "/hook", at: map[[2]string]time.Time{}}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

func (r *benchReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if token := req.URL.Query().Get("validationToken"); token != "" {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, token)
		return
	}
	var body struct {
		Value []struct {
			SubscriptionID string `json:"subscriptionId"`
			ResourceData   struct {
				ID string `json:"id"`
			} `json:"resourceData"`
		} `json:"value"`
	}
	err := json.NewDecoder(req.Body).Decode(&body)
	now := time.Now()
	w.WriteHeader(http.StatusAccepted)
	if err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.post++
	for _, n := range body.Value {
		k := [2]string{n.SubscriptionID, n.ResourceData.ID}
		if _, ok := r.at[k]; ok {
			r.dups++
			continue
		}
		r.at[k] = now
	}
}

// webhookRow is one run of the step.
type webhookRow struct {
	subscriptions, commits, delivered, expected, posts, duplicates int
	commitRate, notifyRate                                         float64
	p50, p99, max                                                  time.Duration
	cpu                                                            cpuUsage
	units                                                          int
}

func (b *bench) runWebhooks(ctx context.Context) ([]webhookRow, error) {
	var rows []webhookRow
	for _, n := range b.opts.webhookSubscriptions {
		fmt.Fprintf(b.progress, "webhooks: %d subscription(s), %d clients creating\n", n, webhookClients)
		row, err := b.webhookStep(ctx, n)
		if err != nil {
			return rows, err
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// webhookStep measures n subscriptions on a connection of a tenant of its
// own, so no other subscription shares its change log.
func (b *bench) webhookStep(ctx context.Context, n int) (webhookRow, error) {
	row := webhookRow{subscriptions: n}
	tenant := fmt.Sprintf("%s-hooks%d", b.tenant, n)
	token, err := issueToken(b.secret, tenant)
	if err != nil {
		return row, err
	}
	rc, err := startBenchReceiver()
	if err != nil {
		return row, err
	}
	defer rc.srv.Close()
	setup := newAPIClients(b.svc.base, token, 1)[0]
	defer setup.close()
	const connection = "hooks"
	if err := setup.createConnection(ctx, connection); err != nil {
		return row, err
	}
	for range n {
		body, _ := json.Marshal(map[string]any{"changeType": "created", "notificationUrl": rc.url,
			"resource":           "external/connections/" + connection + "/operations",
			"expirationDateTime": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
		if _, err := setup.call(ctx, http.MethodPost, apiRoot+"/subscriptions", body, http.StatusCreated, false); err != nil {
			return row, fmt.Errorf("create subscription: %w", err)
		}
	}
	clients := newAPIClients(b.svc.base, token, webhookClients)
	defer closeAll(clients)
	start := time.Now()
	res, err := drive(ctx, loadSpec{clients: webhookClients, warmup: b.opts.warmup, window: b.opts.duration, probe: b.probe,
		do: func(ctx context.Context, w int) (int, error) { return clients[w].createOperation(ctx, connection) }})
	if err != nil {
		return row, err
	}
	commits, err := b.commitTimes(ctx, tenant, connection)
	if err != nil {
		return row, err
	}
	row.commits, row.expected = len(commits), len(commits)*n
	if n == 0 {
		row.commitRate, row.cpu, row.units = res.rate(), res.cpu, res.units
		return row, nil
	}
	// Every notification, or a minute's wait for the stragglers.
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		rc.mu.Lock()
		got := len(rc.at)
		rc.mu.Unlock()
		if got >= row.expected {
			break
		}
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	row.delivered, row.posts, row.duplicates = len(rc.at), rc.post, rc.dups
	// The window as drive measured it: after the warm-up, for the duration.
	open := start.Add(b.opts.warmup)
	closing := open.Add(res.window)
	var lags []time.Duration
	inWindow := 0
	for k, at := range rc.at {
		if c, ok := commits[k[1]]; ok {
			lags = append(lags, at.Sub(c))
		}
		if !at.Before(open) && at.Before(closing) {
			inWindow++
		}
	}
	slices.Sort(lags)
	row.p50, row.p99 = percentile(lags, 0.50), percentile(lags, 0.99)
	if len(lags) > 0 {
		row.max = lags[len(lags)-1]
	}
	row.commitRate, row.cpu, row.units = res.rate(), res.cpu, res.units
	if res.window > 0 {
		row.notifyRate = float64(inWindow) / res.window.Seconds()
	}
	return row, nil
}

// commitTimes are the log times of the connection's operation creates,
// by operation id: taken inside the committing transaction, a little
// before its commit.
func (b *bench) commitTimes(ctx context.Context, tenant, connection string) (map[string]time.Time, error) {
	rows, err := b.db.service.Query(ctx, `SELECT resource_id, at FROM changes
		WHERE tenant_id = $1 AND connection_id = $2 AND resource = 'operation' AND change_type = 'created'`, tenant, connection)
	if err != nil {
		return nil, fmt.Errorf("read commit times: %w", err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var id string
		var at time.Time
		if err := rows.Scan(&id, &at); err != nil {
			return nil, err
		}
		out[id] = at
	}
	return out, rows.Err()
}

func printWebhooks(w io.Writer, rows []webhookRow) {
	t := table{header: []string{"subscriptions", "creates/s", "notifications/s", "delivered", "notifications per POST",
		"duplicates", "commit→delivery p50 ms", "p99 ms", "max ms", "service CPU µs/create", "DB CPU µs/create", "cores busy"}}
	for _, r := range rows {
		if r.subscriptions == 0 {
			t.add("0", fmtRate(r.commitRate), "-", "-", "-", "-", "-", "-", "-", fmtPer(r.cpu.service, r.units, true),
				fmtPer(r.cpu.db, r.units, r.cpu.dbKnown), coresBusy(r.cpu.service+r.cpu.db+r.cpu.bench, r.cpu.wall))
			continue
		}
		perPost := 0.0
		if r.posts > 0 {
			perPost = float64(r.delivered+r.duplicates) / float64(r.posts)
		}
		t.add(fmt.Sprint(r.subscriptions), fmtRate(r.commitRate), fmtRate(r.notifyRate), fmt.Sprintf("%d/%d", r.delivered, r.expected),
			fmt.Sprintf("%.1f", perPost), fmt.Sprint(r.duplicates), fmtMS(r.p50), fmtMS(r.p99), fmtMS(r.max),
			fmtPer(r.cpu.service, r.units, true), fmtPer(r.cpu.db, r.units, r.cpu.dbKnown),
			coresBusy(r.cpu.service+r.cpu.db+r.cpu.bench, r.cpu.wall))
	}
	t.print(w)
}
