package rtmpserver

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the RTMP server's Prometheus metrics.
type Metrics struct {
	rejections *prometheus.CounterVec
	publishes  prometheus.Counter
	publishers prometheus.Gauge
}

// NewMetrics creates the RTMP metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "podium_rtmp_rejections_total",
			Help: "RTMP publish or play requests refused, by reason (bad request, unauthorized, not found, bad mode, conflict, locked, overload, unsupported media; oversized: a chunk size, message or byte count over the bounds before publishing)."},
			[]string{"reason"}),
		publishes: prometheus.NewCounter(prometheus.CounterOpts{Name: "podium_rtmp_publishes_total",
			Help: "RTMP publishers accepted."}),
		publishers: prometheus.NewGauge(prometheus.GaugeOpts{Name: "podium_rtmp_publishers",
			Help: "RTMP publishers connected now."}),
	}
	reg.MustRegister(m.rejections, m.publishes, m.publishers)
	return m
}
