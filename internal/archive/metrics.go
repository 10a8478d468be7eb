package archive

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the archive's Prometheus metrics.
type Metrics struct {
	archive         *Archive
	segmentsWritten prometheus.Counter
	segmentsDeleted prometheus.Counter
	bytesWritten    prometheus.Counter
	writeErrors     prometheus.Counter
	lagCuts         prometheus.Counter

	diskFull  *prometheus.Desc
	freeBytes *prometheus.Desc
	recording *prometheus.Desc
	bytes     *prometheus.Desc
	oldest    *prometheus.Desc
}

// NewMetrics registers the archive's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		segmentsWritten: prometheus.NewCounter(prometheus.CounterOpts{Name: "podium_archive_segments_written_total", Help: "Archive segments written and indexed."}),
		segmentsDeleted: prometheus.NewCounter(prometheus.CounterOpts{Name: "podium_archive_segments_deleted_total", Help: "Archive segments deleted by retention."}),
		bytesWritten:    prometheus.NewCounter(prometheus.CounterOpts{Name: "podium_archive_written_bytes_total", Help: "Bytes of archive segments written."}),
		writeErrors:     prometheus.NewCounter(prometheus.CounterOpts{Name: "podium_archive_write_errors_total", Help: "Archive writes that failed (the segment is lost)."}),
		lagCuts:         prometheus.NewCounter(prometheus.CounterOpts{Name: "podium_archive_lag_cuts_total", Help: "Times a recorder fell behind the live edge and rejoined."}),
		diskFull:        prometheus.NewDesc("podium_archive_disk_full", "1 while recording is stopped because the archive disk is (nearly) full.", nil, nil),
		freeBytes:       prometheus.NewDesc("podium_archive_free_bytes", "Free space on the archive's disk.", nil, nil),
		recording:       prometheus.NewDesc("podium_archive_recording", "1 while the feed's recorder is writing segments.", []string{"feed"}, nil),
		bytes:           prometheus.NewDesc("podium_archive_bytes", "Bytes of the feed's archive.", []string{"feed"}, nil),
		oldest:          prometheus.NewDesc("podium_archive_oldest_seconds", "Unix time of the oldest recorded media of the feed.", []string{"feed"}, nil),
	}
	reg.MustRegister(m.segmentsWritten, m.segmentsDeleted, m.bytesWritten, m.writeErrors, m.lagCuts, m)
	return m
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.diskFull
	ch <- m.freeBytes
	ch <- m.recording
	ch <- m.bytes
	ch <- m.oldest
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	a := m.archive
	if a == nil {
		return
	}
	full := 0.0
	if a.DiskFull() {
		full = 1
	}
	ch <- prometheus.MustNewConstMetric(m.diskFull, prometheus.GaugeValue, full)
	ch <- prometheus.MustNewConstMetric(m.freeBytes, prometheus.GaugeValue, float64(a.FreeBytes()))
	for _, id := range a.feedIDs() {
		s := a.Status(id)
		rec := 0.0
		if s.State == StateRecording {
			rec = 1
		}
		ch <- prometheus.MustNewConstMetric(m.recording, prometheus.GaugeValue, rec, id)
		ch <- prometheus.MustNewConstMetric(m.bytes, prometheus.GaugeValue, float64(s.Bytes), id)
		if !s.From.IsZero() {
			ch <- prometheus.MustNewConstMetric(m.oldest, prometheus.GaugeValue, float64(s.From.Unix()), id)
		}
	}
}
