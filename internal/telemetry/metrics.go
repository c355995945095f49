// Package telemetry holds connops' Prometheus metrics. Every collector lives
// on a registry the process creates, never on the global default one.
package telemetry

import (
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the service's counters and histograms.
type Metrics struct {
	registry         *prometheus.Registry
	requests         *prometheus.CounterVec
	latency          *prometheus.HistogramVec
	dbUnavailable    prometheus.Counter
	rateLimited      prometheus.Counter
	idempotentReplay prometheus.Counter
	purged           *prometheus.CounterVec
	finished         *prometheus.CounterVec
	provisioning     prometheus.Histogram
	claimsLost       prometheus.Counter
	engineLag        prometheus.Gauge
	byStatus         *prometheus.GaugeVec
	webhooks         webhookMetrics
}

// New registers the metrics, the Go runtime and process collectors, and the
// pool's statistics on a fresh registry.
func New(pool *pgxpool.Pool) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "connops_http_requests_total", Help: "HTTP requests answered, by method, route template and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "connops_http_request_duration_seconds", Help: "Time to answer HTTP requests, by method and route template.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route"}),
		dbUnavailable: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "connops_database_unavailable_total", Help: "Requests answered 503 because the database could not be reached in time.",
		}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "connops_rate_limited_total", Help: "Requests answered 429 by the per-tenant rate limit.",
		}),
		idempotentReplay: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "connops_idempotent_replays_total", Help: "Creates answered from a stored Idempotency-Key response.",
		}),
		purged: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "connops_retention_purged_total", Help: "Rows removed by the retention job, by kind.",
		}, []string{"kind"}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "connops_engine_operations_finished_total", Help: "Service-started operations this replica's engine finished, by final status.",
		}, []string{"status"}),
		provisioning: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "connops_provisioning_duration_seconds", Help: "Time from a schema registration to its operation's completion by the engine.",
			Buckets: []float64{.1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900},
		}),
		claimsLost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "connops_engine_claims_lost_total", Help: "Claimed work this replica could not finish because another worker took it over or it was gone.",
		}),
		engineLag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "connops_engine_lag_seconds", Help: "How long the oldest due, unclaimed work item has waited (0 when none).",
		}),
		byStatus: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "connops_operations", Help: "Operations stored, by status, over every tenant (refreshed every 30 s).",
		}, []string{"status"}),
	}
	reg.MustRegister(m.requests, m.latency, m.dbUnavailable, m.rateLimited, m.idempotentReplay, m.purged,
		m.finished, m.provisioning, m.claimsLost, m.engineLag, m.byStatus,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.webhooks = newWebhookMetrics(reg)
	if pool != nil {
		reg.MustRegister(newPoolCollector(pool))
	}
	return m
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// RequestDone records one answered request. Every label comes from a
// fixed set, whatever a client sends: methods outside HTTP's own are
// "other", route is a route template or "unmatched" (the caller's job), and
// a status outside 100-599 is "other". Without that, invented methods could
// grow the series without bound.
func (m *Metrics) RequestDone(method, route string, status int, took time.Duration) {
	method = methodLabel(method)
	code := "other"
	if status >= 100 && status <= 599 {
		code = strconv.Itoa(status)
	}
	m.requests.WithLabelValues(method, route, code).Inc()
	m.latency.WithLabelValues(method, route).Observe(took.Seconds())
}

func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return method
	}
	return "other"
}

// RateLimited counts a 429.
func (m *Metrics) RateLimited() { m.rateLimited.Inc() }

// DatabaseUnavailable counts a 503 caused by the database.
func (m *Metrics) DatabaseUnavailable() { m.dbUnavailable.Inc() }

// IdempotentReplay counts a replayed create.
func (m *Metrics) IdempotentReplay() { m.idempotentReplay.Inc() }

// Purged counts rows the retention job removed.
func (m *Metrics) Purged(kind string, n int64) { m.purged.WithLabelValues(kind).Add(float64(n)) }

// OperationFinished counts an operation the engine finished, and how long
// it took from creation.
func (m *Metrics) OperationFinished(status string, took time.Duration) {
	m.finished.WithLabelValues(status).Inc()
	m.provisioning.Observe(took.Seconds())
}

// ClaimLost counts claimed work another worker took over.
func (m *Metrics) ClaimLost() { m.claimsLost.Inc() }

// EngineLag sets the age of the oldest due, unclaimed work.
func (m *Metrics) EngineLag(d time.Duration) { m.engineLag.Set(d.Seconds()) }

// OperationsByStatus sets the stored operations per status; statuses absent
// from counts read 0.
func (m *Metrics) OperationsByStatus(counts map[string]int64) {
	for _, s := range []string{"unspecified", "inprogress", "completed", "failed"} {
		m.byStatus.WithLabelValues(s).Set(float64(counts[s]))
	}
}

// WatchGauge exposes watchers as connops_change_watchers: the waits and
// event streams this replica holds open.
func (m *Metrics) WatchGauge(watchers func() int) {
	m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "connops_change_watchers", Help: "Waiting requests (Prefer: wait) and event streams this replica holds open.",
	}, func() float64 { return float64(watchers()) }))
}
