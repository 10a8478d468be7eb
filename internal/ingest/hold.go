package ingest

import "github.com/podium-broadcast/podium/internal/ts"

// maxHold bounds the bytes held back; beyond it they go out as they are.
const maxHold = 8 << 20

// holder delays the on-air source's packets until every PES among them is
// complete: video PES have no length and end only where the next begins, so
// the stream goes out one video frame late (20-40 ms). A switch then drops
// the held tail, and the output never carries a truncated frame that a
// decoder would choke on. The order of packets is kept: what goes out is the
// input, byte for byte, only later.
type holder struct {
	pending []byte
	spare   []byte // the other buffer: pending and spare swap as data goes out
	// open lists the PIDs with an incomplete PES in pending: where it starts
	// and how many bytes it still lacks (-1: unbounded, until the next start).
	open []openPES
}

type openPES struct {
	pid     int
	start   int
	missing int
}

// reset drops everything held.
func (h *holder) reset() {
	h.pending = h.pending[:0]
	h.open = h.open[:0]
}

// shrink lets go of the buffers beyond the bytes held.
func (h *holder) shrink() {
	h.pending = append([]byte(nil), h.pending...)
	h.spare = nil
}

// push adds whole packets and returns those that may go out now. The
// returned slice is valid until the next call.
func (h *holder) push(data []byte) []byte {
	base := len(h.pending)
	h.pending = append(h.pending, data...)
	for off := base; off+ts.PacketSize <= len(h.pending); off += ts.PacketSize {
		h.track(h.pending[off:off+ts.PacketSize], off)
	}
	safe := len(h.pending)
	for _, o := range h.open {
		safe = min(safe, o.start)
	}
	if len(h.pending) > maxHold {
		safe = len(h.pending)
		h.open = h.open[:0]
	}
	if safe == 0 {
		return nil
	}
	out := h.pending[:safe:safe]
	// The caller copies out before the next push; the rest moves to the
	// other buffer so that out stays intact until then.
	next := append(h.spare[:0], h.pending[safe:]...)
	h.spare, h.pending = h.pending, next
	for i := range h.open {
		h.open[i].start -= safe
	}
	return out
}

// track follows the PES of the packet at offset off of pending.
func (h *holder) track(p []byte, off int) {
	pid := ts.PID(p)
	i := -1
	for j, o := range h.open {
		if o.pid == pid {
			i = j
			break
		}
	}
	payload := ts.Payload(p)
	if p[1]&0x40 != 0 { // a new unit starts: the previous PES of the PID is complete
		if i >= 0 {
			h.open = append(h.open[:i], h.open[i+1:]...)
		}
		if len(payload) < 6 || payload[0] != 0 || payload[1] != 0 || payload[2] != 1 {
			return // a PSI section or private data: not held
		}
		length := int(payload[4])<<8 | int(payload[5])
		missing := -1
		if length > 0 {
			missing = 6 + length - len(payload)
			if missing <= 0 {
				return
			}
		}
		h.open = append(h.open, openPES{pid: pid, start: off, missing: missing})
		return
	}
	if i >= 0 && h.open[i].missing > 0 {
		h.open[i].missing -= len(payload)
		if h.open[i].missing <= 0 {
			h.open = append(h.open[:i], h.open[i+1:]...)
		}
	}
}
