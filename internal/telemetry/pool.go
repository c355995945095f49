package telemetry

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// poolCollector reads pgxpool statistics at scrape time. The acquire wait
// total is the figure to alert on: its rate is the average number of requests
// queued for a connection.
type poolCollector struct {
	pool                                         *pgxpool.Pool
	total, idle, acquired, max                   *prometheus.Desc
	acquires, emptyAcquires, canceled, waitTotal *prometheus.Desc
}

func newPoolCollector(pool *pgxpool.Pool) *poolCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("connops_db_pool_"+name, help, nil, nil)
	}
	return &poolCollector{
		pool:          pool,
		total:         d("connections", "Connections open in the pool."),
		idle:          d("idle_connections", "Idle connections in the pool."),
		acquired:      d("acquired_connections", "Connections in use."),
		max:           d("max_connections", "The pool's size limit."),
		acquires:      d("acquires_total", "Connections handed out."),
		emptyAcquires: d("empty_acquires_total", "Acquires that had to wait or dial because no idle connection was ready."),
		canceled:      d("canceled_acquires_total", "Acquires abandoned because their context ended."),
		waitTotal:     d("acquire_wait_seconds_total", "Total time spent waiting for a connection."),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.total, c.idle, c.acquired, c.max, c.acquires, c.emptyAcquires, c.canceled, c.waitTotal} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(c.total, float64(s.TotalConns()))
	gauge(c.idle, float64(s.IdleConns()))
	gauge(c.acquired, float64(s.AcquiredConns()))
	gauge(c.max, float64(s.MaxConns()))
	counter(c.acquires, float64(s.AcquireCount()))
	counter(c.emptyAcquires, float64(s.EmptyAcquireCount()))
	counter(c.canceled, float64(s.CanceledAcquireCount()))
	counter(c.waitTotal, s.AcquireDuration().Seconds())
}
