package srtserver

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the SRT server's Prometheus metrics. Packet counters of live
// connections are read at scrape time; those of closed connections are kept.
type Metrics struct {
	server      *Server
	rejections  *prometheus.CounterVec
	connections *prometheus.CounterVec

	mu     sync.Mutex
	closed map[counterKey]*closedCounts

	lostDesc, retransDesc, droppedDesc *prometheus.Desc
}

type counterKey struct{ feed, direction string }

type closedCounts struct{ lost, retrans, dropped uint64 }

// NewMetrics creates the SRT metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podium_srt_rejections_total",
			Help: "SRT connection requests refused, by SRT access-control reason.",
		}, []string{"reason"}),
		connections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podium_srt_connections_total",
			Help: "SRT connections accepted, by streamid mode (publish or request).",
		}, []string{"mode"}),
		closed: make(map[counterKey]*closedCounts),
		lostDesc: prometheus.NewDesc("podium_srt_packets_lost_total",
			"SRT packets reported lost, per feed; direction is ingest (publisher to Podium) or delivery (Podium to broadcasters).",
			[]string{"feed", "direction"}, nil),
		retransDesc: prometheus.NewDesc("podium_srt_packets_retransmitted_total",
			"SRT packets retransmitted, per feed and direction.", []string{"feed", "direction"}, nil),
		droppedDesc: prometheus.NewDesc("podium_srt_packets_dropped_total",
			"SRT packets given up on, per feed and direction: on ingest, too late to play; on delivery, not acknowledged within the latency (the receiver may still have them).", []string{"feed", "direction"}, nil),
	}
	reg.MustRegister(m.rejections, m.connections, m)
	return m
}

func (m *Metrics) add(feed, direction string, lost, retrans, dropped uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := counterKey{feed, direction}
	c := m.closed[k]
	if c == nil {
		c = &closedCounts{}
		m.closed[k] = c
	}
	c.lost += lost
	c.retrans += retrans
	c.dropped += dropped
}

func (m *Metrics) addIngest(feed string, st connStats) {
	m.add(feed, "ingest", st.PktRecvLoss, st.PktRetrans, st.PktRecvDrop)
}

func (m *Metrics) addDelivery(feed string, st connStats) {
	m.add(feed, "delivery", st.PktSendLoss, st.PktRetrans, st.PktSendDrop)
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.lostDesc
	ch <- m.retransDesc
	ch <- m.droppedDesc
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	totals := make(map[counterKey]closedCounts)
	m.mu.Lock()
	for k, c := range m.closed {
		totals[k] = *c
	}
	m.mu.Unlock()
	if s := m.server; s != nil {
		// Copy the sessions, then read their counters without holding the server's lock.
		s.mu.Lock()
		publishers := make([]*publishSession, 0, len(s.publishers))
		for _, p := range s.publishers {
			publishers = append(publishers, p)
		}
		pulls := make([]*pullSession, 0, len(s.pulls))
		for p := range s.pulls {
			pulls = append(pulls, p)
		}
		s.mu.Unlock()
		for _, p := range publishers {
			st := p.conn.Stats()
			k := counterKey{p.feedID, "ingest"}
			t := totals[k]
			t.lost, t.retrans, t.dropped = t.lost+st.PktRecvLoss, t.retrans+st.PktRetrans, t.dropped+st.PktRecvDrop
			totals[k] = t
		}
		for _, p := range pulls {
			st := p.conn.Stats()
			k := counterKey{p.delivery.FeedID, "delivery"}
			t := totals[k]
			t.lost, t.retrans, t.dropped = t.lost+st.PktSendLoss, t.retrans+st.PktRetrans, t.dropped+st.PktSendDrop
			totals[k] = t
		}
	}
	for k, t := range totals {
		ch <- prometheus.MustNewConstMetric(m.lostDesc, prometheus.CounterValue, float64(t.lost), k.feed, k.direction)
		ch <- prometheus.MustNewConstMetric(m.retransDesc, prometheus.CounterValue, float64(t.retrans), k.feed, k.direction)
		ch <- prometheus.MustNewConstMetric(m.droppedDesc, prometheus.CounterValue, float64(t.dropped), k.feed, k.direction)
	}
}
