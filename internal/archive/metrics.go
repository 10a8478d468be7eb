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
	uploads         prometheus.Counter
	uploadFailures  prometheus.Counter
	uploadSeconds   prometheus.Histogram

	diskFull  *prometheus.Desc
	freeBytes *prometheus.Desc
	recording *prometheus.Desc
	bytes     *prometheus.Desc
	oldest    *prometheus.Desc

	spoolBytes    *prometheus.Desc
	spoolSegments *prometheus.Desc
	spoolFull     *prometheus.Desc
}

// NewMetrics registers the archive's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		segmentsWritten: prometheus.NewCounter(prometheus.CounterOpts{Name: "podium_archive_segments_written_total", Help: "Archive segments written and indexed."}),
		segmentsDeleted: prometheus.NewCounter(prometheus.CounterOpts{Name: "podium_archive_segments_deleted_total", Help: "Archive segments deleted by retention."}),
		bytesWritten:    prometheus.NewCounter(prometheus.CounterOpts{Name: "podium_archive_written_bytes_total", Help: "Bytes of archive segments written."}),
		writeErrors:     prometheus.NewCounter(prometheus.CounterOpts{Name: "podium_archive_write_errors_total", Help: "Archive writes that failed (the segment is lost)."}),
		lagCuts:         prometheus.NewCounter(prometheus.CounterOpts{Name: "podium_archive_lag_cuts_total", Help: "Times a recorder fell behind the live edge and rejoined."}),
		uploads:         prometheus.NewCounter(prometheus.CounterOpts{Name: "podium_archive_uploads_total", Help: "Segments uploaded to object storage."}),
		uploadFailures:  prometheus.NewCounter(prometheus.CounterOpts{Name: "podium_archive_upload_failures_total", Help: "Segment uploads to object storage that failed (each is retried, in order)."}),
		uploadSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "podium_archive_upload_seconds", Help: "Time to upload one segment to object storage.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}),
		spoolBytes:    prometheus.NewDesc("podium_archive_spool_bytes", "Bytes of closed segments waiting on local disk for object storage.", nil, nil),
		spoolSegments: prometheus.NewDesc("podium_archive_spool_segments", "Closed segments waiting on local disk for object storage.", nil, nil),
		spoolFull:     prometheus.NewDesc("podium_archive_spool_full", "1 while the spool holds more than archive_spool_max: segments are indexed from local disk until uploaded.", nil, nil),
		diskFull:      prometheus.NewDesc("podium_archive_disk_full", "1 while recording is stopped because the archive disk is (nearly) full.", nil, nil),
		freeBytes:     prometheus.NewDesc("podium_archive_free_bytes", "Free space on the archive's disk.", nil, nil),
		recording:     prometheus.NewDesc("podium_archive_recording", "1 while the feed's recorder is writing segments.", []string{"feed"}, nil),
		bytes:         prometheus.NewDesc("podium_archive_bytes", "Bytes of the feed's archive.", []string{"feed"}, nil),
		oldest:        prometheus.NewDesc("podium_archive_oldest_seconds", "Unix time of the oldest recorded media of the feed.", []string{"feed"}, nil),
	}
	reg.MustRegister(m.segmentsWritten, m.segmentsDeleted, m.bytesWritten, m.writeErrors, m.lagCuts,
		m.uploads, m.uploadFailures, m.uploadSeconds, m)
	return m
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.diskFull
	ch <- m.freeBytes
	ch <- m.recording
	ch <- m.bytes
	ch <- m.oldest
	ch <- m.spoolBytes
	ch <- m.spoolSegments
	ch <- m.spoolFull
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
	if a.spool != nil {
		bytes, n, spoolFull := a.spool.stats()
		full := 0.0
		if spoolFull {
			full = 1
		}
		ch <- prometheus.MustNewConstMetric(m.spoolBytes, prometheus.GaugeValue, float64(bytes))
		ch <- prometheus.MustNewConstMetric(m.spoolSegments, prometheus.GaugeValue, float64(n))
		ch <- prometheus.MustNewConstMetric(m.spoolFull, prometheus.GaugeValue, full)
	}
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
