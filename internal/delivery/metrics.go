package delivery

import "github.com/prometheus/client_golang/prometheus"

var (
	bytesDesc      = prometheus.NewDesc("podium_broadcaster_bytes_delivered_total", "Transport stream bytes delivered to the broadcaster, all feeds and protocols.", []string{"broadcaster"}, nil)
	deliveriesDesc = prometheus.NewDesc("podium_deliveries", "Live deliveries, by protocol.", []string{"protocol"}, nil)
)

// Describe implements prometheus.Collector.
func (r *Registry) Describe(ch chan<- *prometheus.Desc) {
	ch <- bytesDesc
	ch <- deliveriesDesc
}

// Collect implements prometheus.Collector.
func (r *Registry) Collect(ch chan<- prometheus.Metric) {
	for b, n := range r.BytesByBroadcaster() {
		ch <- prometheus.MustNewConstMetric(bytesDesc, prometheus.CounterValue, float64(n), b)
	}
	byProtocol := map[string]int{"srt": 0}
	for _, d := range r.List() {
		byProtocol[d.Protocol]++
	}
	for p, n := range byProtocol {
		ch <- prometheus.MustNewConstMetric(deliveriesDesc, prometheus.GaugeValue, float64(n), p)
	}
}
