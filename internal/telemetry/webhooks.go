package telemetry

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// webhookMetrics are the delivery engine's.
type webhookMetrics struct {
	deliveries    *prometheus.CounterVec
	notifications *prometheus.CounterVec
	lag           prometheus.Histogram
	lifecycle     *prometheus.CounterVec
	inFlight      prometheus.Gauge
	queue         *prometheus.GaugeVec
}

func newWebhookMetrics(reg *prometheus.Registry) webhookMetrics {
	m := webhookMetrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "connops_webhook_deliveries_total", Help: "Notification POSTs this replica made, by outcome: delivered (2xx), failed (retried), dropped (past the retry window).",
		}, []string{"outcome"}),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "connops_webhook_notifications_total", Help: "Change notifications in those POSTs, by outcome.",
		}, []string{"outcome"}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "connops_webhook_delivery_lag_seconds", Help: "From a change's commit to the 2xx of the POST that delivered it.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 3600},
		}),
		lifecycle: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "connops_webhook_lifecycle_notifications_total", Help: "Lifecycle notification POSTs this replica made, by event and outcome.",
		}, []string{"event", "outcome"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "connops_webhook_in_flight", Help: "Notification POSTs in flight on this replica.",
		}),
		queue: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "connops_webhook_queue", Help: "Subscriptions (all, and backing off after failures) and lifecycle events waiting, over every tenant; refreshed every 5 s.",
		}, []string{"kind"}),
	}
	reg.MustRegister(m.deliveries, m.notifications, m.lag, m.lifecycle, m.inFlight, m.queue)
	return m
}

// WebhookDelivery counts one POST of n notifications by outcome.
func (m *Metrics) WebhookDelivery(outcome string, n int) {
	m.webhooks.deliveries.WithLabelValues(outcome).Inc()
	m.webhooks.notifications.WithLabelValues(outcome).Add(float64(n))
}

// WebhookLag observes one delivered change's time from commit.
func (m *Metrics) WebhookLag(d time.Duration) { m.webhooks.lag.Observe(d.Seconds()) }

// WebhookLifecycle counts one lifecycle notification POST.
func (m *Metrics) WebhookLifecycle(event, outcome string) {
	m.webhooks.lifecycle.WithLabelValues(event, outcome).Inc()
}

// WebhookInFlight sets the POSTs in flight.
func (m *Metrics) WebhookInFlight(n int) { m.webhooks.inFlight.Set(float64(n)) }

// WebhookQueue sets the outbox's sizes.
func (m *Metrics) WebhookQueue(subscriptions, retrying, events int64) {
	m.webhooks.queue.WithLabelValues("subscriptions").Set(float64(subscriptions))
	m.webhooks.queue.WithLabelValues("retrying").Set(float64(retrying))
	m.webhooks.queue.WithLabelValues("lifecycle_events").Set(float64(events))
}
