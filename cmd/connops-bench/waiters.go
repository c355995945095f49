package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The waiters step holds many GETs with Prefer: wait open on one replica,
// then changes their operations one by one and times how soon after each
// PATCH its waiter answers: the change hub's cost and speed.

const (
	waitersConnection = "waiters"
	waitSeconds       = 120
	// patchClients bound the PATCH rate, so the step measures wake-ups, not
	// a write overload.
	patchClients = 4
	// probeRequests are the plain GETs timed with and without the waiters.
	probeRequests = 400
	// The waits open openBurst at a time, openPause apart: 2,000 a second.
	openBurst = 200
	openPause = 100 * time.Millisecond
	// waitAttempts: a waiter told 429 or 503 (its tenant's first reads
	// queued past tenantgate.MaxWait) asks again after
	// Retry-After, as the Graph SDKs' retry handler does, this many times
	// in all.
	waitAttempts = 4
)

const loadWaitersSQL = `
INSERT INTO operations (tenant_id, connection_id, id, status)
SELECT $1, $2, 'w' || i, 'inprogress' FROM generate_series(1, $3::int) AS i`

type waitersResult struct {
	waiters            int
	rssBeforeKB        int64
	rssHeldKB          int64
	probeAlone, probed []time.Duration // plain GET latencies without and with the waiters held
	wakeAfterAnswer    []time.Duration // waiter answered, after its PATCH's 204 arrived
	wakeAfterSend      []time.Duration // waiter answered, after its PATCH was sent
	failures           int
	retries            int64 // 429 or 503 answers a waiter asked again after
	firstFailure       string
	opened, patched    time.Duration // how long opening the waits and changing their operations took
}

func (b *bench) runWaiters(ctx context.Context, n int) (waitersResult, error) {
	res := waitersResult{waiters: n}
	admin := newAPIClients(b.svc.base, b.token, 1)[0]
	defer admin.close()
	if err := admin.createConnection(ctx, waitersConnection); err != nil {
		return res, err
	}
	if _, err := b.db.service.Exec(ctx, loadWaitersSQL, b.tenant, waitersConnection, n); err != nil {
		return res, fmt.Errorf("load waiter operations: %w", err)
	}
	base := connectionsSet + "/" + waitersConnection + "/operations/"
	var err error
	if res.probeAlone, err = probeGets(ctx, admin, base+"w1"); err != nil {
		return res, err
	}
	res.rssBeforeKB, _ = memoryKB(b.svc.pid(), "VmRSS")

	// One transport for every waiter, each on a connection of its own.
	tr := &http.Transport{MaxIdleConnsPerHost: n, DisableCompression: true, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: (waitSeconds + 30) * time.Second}
	answered := make([]time.Time, n+1)
	var retries atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		res.failures++
		if res.firstFailure == "" {
			res.firstFailure = err.Error()
		}
	}
	fmt.Fprintf(b.progress, "  opening %d waits\n", n)
	openStart := time.Now()
	for i := 1; i <= n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := wait(ctx, client, b.svc.base+base+"w"+strconv.Itoa(i), b.token, &retries); err != nil {
				fail(err)
				return
			}
			answered[i] = time.Now()
		}()
		if i%openBurst == 0 {
			// Paced: one tenant's 10,000 first reads at once would queue on
			// its database slots past tenantgate.MaxWait and get 429, as
			// any burst of a tenant's requests would.
			time.Sleep(openPause)
		}
	}
	if err := waitForWatchers(ctx, b.svc.base, n); err != nil {
		return res, err
	}
	res.opened = time.Since(openStart)
	rssCtx, stopRSS := context.WithCancel(ctx)
	rss := make(chan int64, 1)
	go func() { rss <- sampleRSS(rssCtx, b.svc.pid()) }()
	res.probed, err = probeGets(ctx, admin, base+"w1")
	if err != nil {
		stopRSS()
		return res, err
	}
	stopRSS()
	res.rssHeldKB = <-rss

	fmt.Fprintf(b.progress, "  changing the %d operations, %d PATCH clients\n", n, patchClients)
	sent, done := make([]time.Time, n+1), make([]time.Time, n+1)
	patchers := newAPIClients(b.svc.base, b.token, patchClients)
	defer closeAll(patchers)
	next := make(chan int)
	patchStart := time.Now()
	var pg sync.WaitGroup
	for w := range patchClients {
		pg.Add(1)
		go func() {
			defer pg.Done()
			for i := range next {
				sent[i] = time.Now()
				if _, err := patchers[w].call(ctx, http.MethodPatch, base+"w"+strconv.Itoa(i), []byte(`{"status":"completed"}`), http.StatusNoContent, false); err != nil {
					fail(err)
				}
				done[i] = time.Now()
			}
		}()
	}
	for i := 1; i <= n; i++ {
		next <- i
	}
	close(next)
	pg.Wait()
	res.patched = time.Since(patchStart)
	wg.Wait()
	res.retries = retries.Load()
	for i := 1; i <= n; i++ {
		if answered[i].IsZero() || done[i].IsZero() {
			continue
		}
		res.wakeAfterAnswer = append(res.wakeAfterAnswer, max(0, answered[i].Sub(done[i])))
		res.wakeAfterSend = append(res.wakeAfterSend, answered[i].Sub(sent[i]))
	}
	return res, nil
}

// wait is one waiter: a GET with Prefer: wait that must answer 200
// completed, asked again after Retry-After on 429 or 503.
func wait(ctx context.Context, client *http.Client, url, token string, retries *atomic.Int64) error {
	for attempt := 1; ; attempt++ {
		status, retryAfter, body, err := waitOnce(ctx, client, url, token)
		if err != nil {
			return err
		}
		if (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) && attempt < waitAttempts {
			retries.Add(1)
			sleep(ctx, retryAfter)
			continue
		}
		if status != http.StatusOK || !strings.Contains(string(body), `"completed"`) {
			return fmt.Errorf("wait on %s: %d %s", url, status, body)
		}
		return nil
	}
}

func waitOnce(ctx context.Context, client *http.Client, url, token string) (status int, retryAfter time.Duration, body []byte, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Prefer", "wait="+strconv.Itoa(waitSeconds))
	res, err := client.Do(req)
	if err != nil {
		return 0, 0, nil, err
	}
	defer res.Body.Close()
	body, _ = io.ReadAll(res.Body)
	seconds, _ := strconv.Atoi(res.Header.Get("Retry-After"))
	return res.StatusCode, time.Duration(max(1, seconds)) * time.Second, body, nil
}

// waitForWatchers polls /metrics until the replica holds n watchers.
func waitForWatchers(ctx context.Context, base string, n int) error {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if got, err := watchers(ctx, base); err == nil && got >= n {
			return nil
		}
		sleep(ctx, 100*time.Millisecond)
	}
	got, _ := watchers(ctx, base)
	return fmt.Errorf("the service holds %d of %d waits after 2 minutes", got, n)
}

func watchers(ctx context.Context, base string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "connops_change_watchers "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return int(f), err
		}
	}
	return 0, fmt.Errorf("no connops_change_watchers in /metrics")
}

// probeGets times plain GETs of one operation, one at a time.
func probeGets(ctx context.Context, c *apiClient, path string) ([]time.Duration, error) {
	out := make([]time.Duration, 0, probeRequests)
	for range probeRequests {
		start := time.Now()
		if _, err := c.get(ctx, path); err != nil {
			return nil, err
		}
		out = append(out, time.Since(start))
	}
	slices.Sort(out)
	return out, nil
}

func printWaiters(w io.Writer, r waitersResult) {
	slices.Sort(r.wakeAfterAnswer)
	slices.Sort(r.wakeAfterSend)
	fmt.Fprintf(w, "\n### %d concurrent waiters (GET with Prefer: wait=%d) on one replica\n\n", r.waiters, waitSeconds)
	t := table{header: []string{"measure", "value"}}
	t.add("service RSS before the waits / largest while they are held", fmtMiB(r.rssBeforeKB)+" / "+fmtMiB(r.rssHeldKB))
	t.add("plain GET p50 / p99, alone", fmtMS(percentile(r.probeAlone, 0.5))+" / "+fmtMS(percentile(r.probeAlone, 0.99))+" ms")
	t.add("plain GET p50 / p99, beside the waits", fmtMS(percentile(r.probed, 0.5))+" / "+fmtMS(percentile(r.probed, 0.99))+" ms")
	t.add("wake-up after the PATCH's 204: p50 / p99 / max", fmtMS(percentile(r.wakeAfterAnswer, 0.5))+" / "+
		fmtMS(percentile(r.wakeAfterAnswer, 0.99))+" / "+fmtMS(percentile(r.wakeAfterAnswer, 1))+" ms")
	t.add("wake-up after the PATCH was sent: p50 / p99", fmtMS(percentile(r.wakeAfterSend, 0.5))+" / "+fmtMS(percentile(r.wakeAfterSend, 0.99))+" ms")
	t.add("waits answered / failures / asked again after 429 or 503", fmt.Sprintf("%d / %d / %d", len(r.wakeAfterAnswer), r.failures, r.retries))
	t.add("opening the waits / changing their operations took", r.opened.Round(time.Millisecond).String()+" / "+r.patched.Round(time.Millisecond).String())
	t.print(w)
	if r.firstFailure != "" {
		fmt.Fprintf(w, "\nfirst failure: %s\n", r.firstFailure)
	}
}
