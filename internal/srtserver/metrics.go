package srtserver

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/podium-broadcast/podium/internal/catalog"
)

// Metrics are the SRT server's Prometheus metrics. Packet counters of live
// connections are read at scrape time; those of closed connections are kept.
type Metrics struct {
	server      *Server
	callers     *Callers
	pushes      *Pushes
	rejections  *prometheus.CounterVec
	connections *prometheus.CounterVec

	callerReconnects, pushReconnects *prometheus.CounterVec
	callerStateDesc, pushStateDesc   *prometheus.Desc

	mu     sync.Mutex
	closed map[counterKey]*closedCounts

	lostDesc, retransDesc, droppedDesc *prometheus.Desc
	discardedDesc                      *prometheus.Desc
	catchUpDesc, deferredDesc          *prometheus.Desc
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
			Help: "SRT connections made: accepted by streamid mode (publish or request), or called (caller: a caller source; push: a push delivery).",
		}, []string{"mode"}),
		callerReconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podium_srt_caller_reconnects_total",
			Help: "Attempts of a feed's caller source to call its encoder again after a failure or a disconnection.",
		}, []string{"feed"}),
		pushReconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podium_srt_push_reconnects_total",
			Help: "Attempts of a push delivery to call its destination again after a failure or a disconnection.",
		}, []string{"broadcaster", "destination"}),
		callerStateDesc: prometheus.NewDesc("podium_srt_caller_state",
			"1 for the state a feed's caller source is in (connecting, connected, backoff), 0 for the others.", []string{"feed", "state"}, nil),
		pushStateDesc: prometheus.NewDesc("podium_srt_push_state",
			"1 for the state a push destination is in (not_entitled, waiting, connecting, connected, backoff), 0 for the others.",
			[]string{"broadcaster", "destination", "feed", "state"}, nil),
		closed: make(map[counterKey]*closedCounts),
		lostDesc: prometheus.NewDesc("podium_srt_packets_lost_total",
			"SRT packets reported lost, per feed; direction is ingest (publisher to Podium) or delivery (Podium to broadcasters).",
			[]string{"feed", "direction"}, nil),
		retransDesc: prometheus.NewDesc("podium_srt_packets_retransmitted_total",
			"SRT packets retransmitted, per feed and direction.", []string{"feed", "direction"}, nil),
		discardedDesc: prometheus.NewDesc("podium_srt_discarded_datagrams_total",
			"Datagrams to the SRT listener dropped before any connection saw them, by reason: malformed (not SRT, or a handshake that does not parse), unknown_socket, wrong_peer (from another address than the connection's peer), handshake_overflow (handshakes faster than they are answered), bad_cookie (a conclusion without the listener's cookie), handling_failed (a packet whose handling failed; its connection was closed).",
			[]string{"reason"}, nil),
		catchUpDesc: prometheus.NewDesc("podium_srt_deliveries_catching_up",
			"SRT deliveries sending the backlog they started with (from the feed's latest keyframe to the live edge).", nil, nil),
		deferredDesc: prometheus.NewDesc("podium_srt_deliveries_started_near_live_edge_total",
			"SRT deliveries that started near the live edge (at a keyframe at most half a GOP old, or the next one) because too many others were catching up at once (a reconnection storm).", nil, nil),
		droppedDesc: prometheus.NewDesc("podium_srt_packets_dropped_total",
			"SRT packets given up on, per feed and direction: on ingest, too late to play; on delivery, not acknowledged within the latency (the receiver may still have them).", []string{"feed", "direction"}, nil),
	}
	reg.MustRegister(m.rejections, m.connections, m.callerReconnects, m.pushReconnects, m)
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
	ch <- m.discardedDesc
	ch <- m.catchUpDesc
	ch <- m.deferredDesc
	ch <- m.callerStateDesc
	ch <- m.pushStateDesc
}

// forgetCaller drops the series of a caller source that was removed.
func (m *Metrics) forgetCaller(feedID string) { m.callerReconnects.DeleteLabelValues(feedID) }

// forgetPush drops the series of a destination that was removed.
func (m *Metrics) forgetPush(d catalog.Destination) {
	m.pushReconnects.DeleteLabelValues(d.BroadcasterID, d.ID)
}

var (
	callerStates = []string{StateConnecting, StateConnected, StateBackoff}
	pushStates   = []string{StateNotEntitled, StateWaiting, StateConnecting, StateConnected, StateBackoff}
)

// collectStates sends the state sets of caller sources and push destinations.
func (m *Metrics) collectStates(ch chan<- prometheus.Metric) {
	oneOf := func(state, current string) float64 {
		if state == current {
			return 1
		}
		return 0
	}
	if m.callers != nil {
		for _, src := range m.callers.list() {
			current := src.state.get().State
			for _, state := range callerStates {
				ch <- prometheus.MustNewConstMetric(m.callerStateDesc, prometheus.GaugeValue, oneOf(state, current), src.src.FeedID, state)
			}
		}
	}
	if m.pushes != nil {
		for _, p := range m.pushes.list() {
			current := p.state.get().State
			for _, state := range pushStates {
				ch <- prometheus.MustNewConstMetric(m.pushStateDesc, prometheus.GaugeValue, oneOf(state, current),
					p.dest.BroadcasterID, p.dest.ID, p.dest.FeedID, state)
			}
		}
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	totals := make(map[counterKey]closedCounts)
	m.mu.Lock()
	for k, c := range m.closed {
		totals[k] = *c
	}
	m.mu.Unlock()
	if s := m.server; s != nil && s.ln != nil {
		for reason, n := range s.ln.Discarded() {
			ch <- prometheus.MustNewConstMetric(m.discardedDesc, prometheus.CounterValue, float64(n), reason)
		}
	}
	if s := m.server; s != nil {
		ch <- prometheus.MustNewConstMetric(m.catchUpDesc, prometheus.GaugeValue, float64(s.catchUps.active.Load()))
		ch <- prometheus.MustNewConstMetric(m.deferredDesc, prometheus.CounterValue, float64(s.catchUps.deferred.Load()))
	}
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
	if m.callers != nil {
		for _, src := range m.callers.list() {
			if c := src.state.live(); c != nil {
				st := c.Stats()
				k := counterKey{src.src.FeedID, "ingest"}
				t := totals[k]
				t.lost, t.retrans, t.dropped = t.lost+st.PktRecvLoss, t.retrans+st.PktRetrans, t.dropped+st.PktRecvDrop
				totals[k] = t
			}
		}
	}
	m.collectStates(ch)
	for k, t := range totals {
		ch <- prometheus.MustNewConstMetric(m.lostDesc, prometheus.CounterValue, float64(t.lost), k.feed, k.direction)
		ch <- prometheus.MustNewConstMetric(m.retransDesc, prometheus.CounterValue, float64(t.retrans), k.feed, k.direction)
		ch <- prometheus.MustNewConstMetric(m.droppedDesc, prometheus.CounterValue, float64(t.dropped), k.feed, k.direction)
	}
}
