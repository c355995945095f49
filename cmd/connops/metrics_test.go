package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/connops/connops/internal/pgtest"
)

// scrape reads /metrics into series -> value, keyed by the exposition text
// (name plus labels, which Prometheus writes sorted by label name).
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	r, err := newClient(base, "", 10*time.Second).do(http.MethodGet, "/metrics", "", nil)
	if err != nil || r.status != http.StatusOK {
		t.Fatalf("GET /metrics: %v %d", err, r.status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(r.body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// TestMetricsMoveWithRequests scrapes, makes requests, scrapes again and
// checks the request, latency, replay and pool series moved by what was done.
func TestMetricsMoveWithRequests(t *testing.T) {
	srv := startServe(t, testConfig(t, pgtest.DSN(t), nil))
	c := newClient(srv.base, devToken(t, "contoso", "metrics"), 30*time.Second)
	createConnection(t, c, "metrics")
	before := scrape(t, srv.base)

	const creates, misses = 5, 3
	for range creates {
		c.mustDo(t, http.StatusCreated, http.MethodPost, operationsPath("metrics"), `{"status":"inprogress"}`, nil)
	}
	for range misses {
		c.mustDo(t, http.StatusNotFound, http.MethodGet, operationsPath("metrics")+"/nope", "", nil)
	}
	c.mustDo(t, http.StatusCreated, http.MethodPost, operationsPath("metrics"), `{"status":"inprogress"}`, keyed("m-1"))
	c.mustDo(t, http.StatusCreated, http.MethodPost, operationsPath("metrics"), `{"status":"inprogress"}`, keyed("m-1"))
	after := scrape(t, srv.base)

	const opsRoute = `route="/v1.0/external/connections/:connectionId/operations"`
	const opRoute = `route="/v1.0/external/connections/:connectionId/operations/:operationId"`
	delta := func(series string) float64 { return after[series] - before[series] }
	checks := []struct {
		series  string
		want    float64
		atLeast bool
	}{
		{`connops_http_requests_total{method="POST",` + opsRoute + `,status="201"}`, creates + 2, false},
		{`connops_http_requests_total{method="GET",` + opRoute + `,status="404"}`, misses, false},
		{`connops_http_request_duration_seconds_count{method="POST",` + opsRoute + `}`, creates + 2, false},
		{`connops_idempotent_replays_total`, 1, false},
		{`connops_db_pool_acquires_total`, creates + misses + 2, true},
	}
	var figures []string
	for _, ch := range checks {
		d := delta(ch.series)
		figures = append(figures, ch.series+" +"+strconv.FormatFloat(d, 'f', -1, 64))
		if (!ch.atLeast && d != ch.want) || (ch.atLeast && d < ch.want) {
			t.Errorf("%s moved by %v, want %v%s", ch.series, d, ch.want, map[bool]string{true: " or more"}[ch.atLeast])
		}
	}
	for _, name := range []string{"connops_db_pool_max_connections", "connops_db_pool_acquire_wait_seconds_total",
		"connops_database_unavailable_total", "connops_rate_limited_total"} {
		if _, ok := after[name]; !ok {
			t.Errorf("%s is not exposed", name)
		}
	}
	report(t, "%s", strings.Join(figures, "; "))
}

// TestMetricsCountRateLimited checks 429s reach connops_rate_limited_total.
func TestMetricsCountRateLimited(t *testing.T) {
	srv := startServe(t, testConfig(t, pgtest.DSN(t), map[string]string{"RATE_LIMIT_RPS": "0.01", "RATE_LIMIT_BURST": "1"}))
	c := newClient(srv.base, devToken(t, "contoso", "limited"), 30*time.Second)
	before := scrape(t, srv.base)["connops_rate_limited_total"]
	c.mustDo(t, http.StatusOK, http.MethodGet, "/v1.0/external/connections", "", nil)
	r := c.mustDo(t, http.StatusTooManyRequests, http.MethodGet, "/v1.0/external/connections", "", nil)
	if !retryAfterOK(r.header) {
		t.Errorf("429 Retry-After = %q, want an integer", r.header.Get("Retry-After"))
	}
	if got := scrape(t, srv.base)["connops_rate_limited_total"] - before; got != 1 {
		t.Errorf("connops_rate_limited_total moved by %v, want 1", got)
	}
}

// TestMetricsLabelsStayBounded sends unauthenticated requests with invented
// methods and paths: the request series may grow by a handful (method
// "other", route "unmatched"), never by one per request.
func TestMetricsLabelsStayBounded(t *testing.T) {
	srv := startServe(t, testConfig(t, pgtest.DSN(t), nil))
	series := func() int {
		n := 0
		for name := range scrape(t, srv.base) {
			if strings.HasPrefix(name, "connops_http_request") {
				n++
			}
		}
		return n
	}
	before := series()
	const requests = 500
	client := &http.Client{Timeout: 10 * time.Second}
	for i := range requests {
		req, err := http.NewRequest(fmt.Sprintf("M%dX", i), fmt.Sprintf("%s/v1.0/path-%d/x%d", srv.base, i, i), nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	grown := series() - before
	report(t, "requests=%d invented-methods=%d new-series=%d", requests, requests, grown)
	if grown > 40 {
		t.Errorf("%d invented requests added %d series", requests, grown)
	}
}
