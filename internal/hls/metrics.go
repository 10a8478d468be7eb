package hls

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the HLS delivery's Prometheus metrics.
type Metrics struct {
	requests *prometheus.CounterVec
	bytes    prometheus.Counter
	muxers   prometheus.Gauge
}

// NewMetrics registers the HLS metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "podium_hls_requests_total",
			Help: "HLS requests, by file kind (playlist, init, part, segment) and HTTP status."}, []string{"kind", "status"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "podium_hls_bytes_total",
			Help: "Bytes of HLS playlists and media served."}),
		muxers: prometheus.NewGauge(prometheus.GaugeOpts{Name: "podium_hls_muxers",
			Help: "Feeds being remuxed to LL-HLS now (a muxer runs while someone watches)."}),
	}
	reg.MustRegister(m.requests, m.bytes, m.muxers)
	return m
}
