package hub

import "github.com/prometheus/client_golang/prometheus"

var (
	liveDesc     = prometheus.NewDesc("podium_feed_live", "1 while the feed has a publisher.", []string{"feed"}, nil)
	bitrateDesc  = prometheus.NewDesc("podium_feed_ingest_bitrate_bps", "Ingest bitrate of the feed in bits per second, averaged over about a second.", []string{"feed"}, nil)
	readersDesc  = prometheus.NewDesc("podium_feed_readers", "Readers attached to the feed.", []string{"feed"}, nil)
	bytesInDesc  = prometheus.NewDesc("podium_feed_bytes_in_total", "Transport stream bytes received from the feed's publishers.", []string{"feed"}, nil)
	bytesOutDesc = prometheus.NewDesc("podium_feed_bytes_out_total", "Transport stream bytes delivered to the feed's readers.", []string{"feed"}, nil)
	lagCutsDesc  = prometheus.NewDesc("podium_feed_readers_cut_lagging_total", "Readers of the feed cut off for falling behind the live edge.", []string{"feed"}, nil)
	bufferDesc   = prometheus.NewDesc("podium_feed_buffered_bytes", "Bytes the feed holds for readers (latest GOP and lag window).", []string{"feed"}, nil)
)

// Describe implements prometheus.Collector.
func (h *Hub) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{liveDesc, bitrateDesc, readersDesc, bytesInDesc, bytesOutDesc, lagCutsDesc, bufferDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: the figures of every feed, read at scrape time.
func (h *Hub) Collect(ch chan<- prometheus.Metric) {
	for _, f := range h.Feeds() {
		st := f.Stats()
		live := 0.0
		if st.Live {
			live = 1
		}
		ch <- prometheus.MustNewConstMetric(liveDesc, prometheus.GaugeValue, live, f.id)
		ch <- prometheus.MustNewConstMetric(bitrateDesc, prometheus.GaugeValue, float64(st.BitrateBPS), f.id)
		ch <- prometheus.MustNewConstMetric(readersDesc, prometheus.GaugeValue, float64(st.Readers), f.id)
		ch <- prometheus.MustNewConstMetric(bytesInDesc, prometheus.CounterValue, float64(st.BytesIn), f.id)
		ch <- prometheus.MustNewConstMetric(bytesOutDesc, prometheus.CounterValue, float64(st.BytesOut), f.id)
		ch <- prometheus.MustNewConstMetric(lagCutsDesc, prometheus.CounterValue, float64(st.LaggingCuts), f.id)
		ch <- prometheus.MustNewConstMetric(bufferDesc, prometheus.GaugeValue, float64(st.BufferedBytes), f.id)
	}
}
