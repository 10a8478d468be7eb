package ingest

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the switcher's Prometheus metrics.
type Metrics struct {
	switches *prometheus.CounterVec
	skipped  *prometheus.CounterVec
}

// NewMetrics registers the switching metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{switches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "podium_feed_source_switches_total",
		Help: "Switches of a feed's on-air source, by the source put on air (primary or backup)."}, []string{"feed", "source"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "podium_feed_source_skipped_bytes_total",
			Help: "Bytes of a source skipped to find the transport stream's sync byte again (a source that joined mid-packet or lost sync)."}, []string{"feed", "source"})}
	reg.MustRegister(m.switches, m.skipped)
	return m
}
