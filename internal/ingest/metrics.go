package ingest

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the switcher's Prometheus metrics.
type Metrics struct {
	switches *prometheus.CounterVec
	skipped  *prometheus.CounterVec
	// backSteps and degraded watch the output's health.
	backSteps *prometheus.CounterVec
	degraded  *prometheus.GaugeVec
}

// NewMetrics registers the switching metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{switches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "podium_feed_source_switches_total",
		Help: "Switches of a feed's on-air source, by the source put on air (primary or backup)."}, []string{"feed", "source"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "podium_feed_source_skipped_bytes_total",
			Help: "Bytes of a source skipped to find the transport stream's sync byte again (a source that joined mid-packet or lost sync)."}, []string{"feed", "source"})}
	m.backSteps = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "podium_feed_output_timestamp_backsteps_total",
		Help: "PES decoding times a feed's output sent behind the last of their PID."}, []string{"feed"})
	m.degraded = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "podium_feed_output_degraded",
		Help: "1 while a feed's output is not cleanly decodable (see GET /feeds/{id} health), else 0."}, []string{"feed"})
	reg.MustRegister(m.switches, m.skipped, m.backSteps, m.degraded)
	return m
}
