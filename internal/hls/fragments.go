package hls

import (
	"encoding/binary"
	"io"
	"math"
	"net/http"
)

const (
	boxHeaderSize = 8
	// maxMoofSize bounds the movie fragment box the filter holds to look
	// into; gohlslib's are a few hundred bytes. A larger one passes as it is.
	maxMoofSize = 1 << 20
)

// fragmentFilter passes an fMP4 byte stream on to w, leaving out every
// movie fragment that carries no track: a moof box without a traf, and the
// empty mdat after it. gohlslib writes one when an audio stream's part ends
// before the audio's next frame arrives; GStreamer 1.22's qtdemux, fed
// segment after segment by hlsdemux and hlsdemux2, fails on it ("sample data
// crosses atom boundary") and playbin and playbin3 stop. Such a fragment
// describes nothing, so leaving it out changes no sample.
type fragmentFilter struct {
	w io.Writer
	// held is the start of the box being read: its header, or a whole moof.
	held []byte
	// pass is how many bytes of the current box still go through untouched.
	pass int64
	// dropMdat is set after a moof without a traf: its empty mdat goes too.
	dropMdat bool
}

func (f *fragmentFilter) Write(p []byte) (int, error) {
	written := len(p)
	for len(p) > 0 {
		if f.pass > 0 {
			k := int(min(int64(len(p)), f.pass))
			if _, err := f.w.Write(p[:k]); err != nil {
				return written - len(p), err
			}
			f.pass -= int64(k)
			p = p[k:]
			continue
		}
		want := boxHeaderSize
		if len(f.held) >= boxHeaderSize && f.heldType() == "moof" {
			want = int(f.heldSize())
		}
		k := min(len(p), want-len(f.held))
		f.held = append(f.held, p[:k]...)
		p = p[k:]
		if len(f.held) == want {
			if err := f.decide(); err != nil {
				return written - len(p), err
			}
		}
	}
	return written, nil
}

// decide handles a box once its header, or for a moof the whole box, is held.
func (f *fragmentFilter) decide() error {
	size, typ := f.heldSize(), f.heldType()
	switch {
	case size < boxHeaderSize || (typ == "moof" && size > maxMoofSize):
		// A size of 0 (to the end) or 1 (64-bit), which gohlslib does not
		// write, or a moof too large to hold: the rest goes as it is.
		f.pass = math.MaxInt64
	case typ == "moof" && int64(len(f.held)) < size:
		return nil // hold the whole moof to look into it
	case typ == "moof" && !hasChild(f.held[boxHeaderSize:], "traf"):
		f.held, f.dropMdat = f.held[:0], true
		return nil
	case typ == "mdat" && f.dropMdat && size == boxHeaderSize:
		f.held, f.dropMdat = f.held[:0], false
		return nil
	default:
		f.pass = size - int64(len(f.held))
	}
	f.dropMdat = false
	return f.flush()
}

// flush writes what is held: at the end of the stream, a box cut short.
func (f *fragmentFilter) flush() error {
	if len(f.held) == 0 {
		return nil
	}
	_, err := f.w.Write(f.held)
	f.held = f.held[:0]
	return err
}

func (f *fragmentFilter) heldSize() int64 { return int64(binary.BigEndian.Uint32(f.held)) }

func (f *fragmentFilter) heldType() string { return string(f.held[4:8]) }

// hasChild reports whether the boxes in b include one of type typ.
func hasChild(b []byte, typ string) bool {
	for len(b) >= boxHeaderSize {
		size := binary.BigEndian.Uint32(b)
		if string(b[4:8]) == typ {
			return true
		}
		if size < boxHeaderSize || int(size) > len(b) {
			return false
		}
		b = b[size:]
	}
	return false
}

// serveSegment answers a segment request from the muxer, its movie
// fragments without tracks left out.
func (m *feedMuxer) serveSegment(w http.ResponseWriter, r *http.Request) {
	out := newFilteredResponse(w)
	m.muxer.Handle(out, r)
	out.filter.flush()
}

// filteredResponse is a ResponseWriter whose body goes through a fragmentFilter.
type filteredResponse struct {
	http.ResponseWriter
	filter *fragmentFilter
}

func newFilteredResponse(w http.ResponseWriter) *filteredResponse {
	return &filteredResponse{ResponseWriter: w, filter: &fragmentFilter{w: w}}
}

func (r *filteredResponse) Write(p []byte) (int, error) { return r.filter.Write(p) }
