package api

import "net/http"

type deliveryJSON struct {
	ID                   uint64  `json:"id"`
	BroadcasterID        string  `json:"broadcaster_id"`
	FeedID               string  `json:"feed_id"`
	Protocol             string  `json:"protocol"`
	RemoteAddr           string  `json:"remote_addr"`
	Since                *string `json:"since"`
	Bytes                uint64  `json:"bytes"`
	PacketsSent          uint64  `json:"packets_sent"`
	PacketsLost          uint64  `json:"packets_lost"`
	PacketsRetransmitted uint64  `json:"packets_retransmitted"`
	PacketsDropped       uint64  `json:"packets_dropped"`
	RTTMillis            float64 `json:"rtt_ms"`
}

func (s *server) listDeliveries(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.visibleDeliveries(r))
}

// visibleDeliveries lists the live deliveries the caller may see: all for the
// operator, its own for a broadcaster.
func (s *server) visibleDeliveries(r *http.Request) []deliveryJSON {
	p := who(r)
	out := []deliveryJSON{}
	for _, d := range s.Deliveries.List() {
		if !p.admin && d.BroadcasterID != p.broadcasterID {
			continue
		}
		st := d.Stats()
		out = append(out, deliveryJSON{ID: d.ID, BroadcasterID: d.BroadcasterID, FeedID: d.FeedID, Protocol: d.Protocol,
			RemoteAddr: d.RemoteAddr, Since: formatTime(d.Since), Bytes: d.Bytes(),
			PacketsSent: st.PacketsSent, PacketsLost: st.PacketsLost, PacketsRetransmitted: st.PacketsRetransmitted,
			PacketsDropped: st.PacketsDropped, RTTMillis: float64(st.RTT.Microseconds()) / 1000})
	}
	return out
}
