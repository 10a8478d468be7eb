package api

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/podium-broadcast/podium/internal/catalog"
	"github.com/podium-broadcast/podium/internal/srtserver"
)

// CallStatuses reports on the calls Podium makes over SRT, by key: a feed id
// for caller sources, a destination id for push deliveries.
type CallStatuses interface {
	Status(key string) (srtserver.CallStatus, bool)
}

// callJSON is the state of a call Podium makes: a caller source or a push.
type callJSON struct {
	State                string  `json:"state"`
	Since                *string `json:"since"`
	LastError            string  `json:"last_error"`
	NextAttemptAt        *string `json:"next_attempt_at"`
	Reconnects           uint64  `json:"reconnects"`
	RemoteAddr           string  `json:"remote_addr"`
	Bytes                uint64  `json:"bytes"`
	PacketsLost          uint64  `json:"packets_lost"`
	PacketsRetransmitted uint64  `json:"packets_retransmitted"`
	PacketsDropped       uint64  `json:"packets_dropped"`
	RTTMillis            float64 `json:"rtt_ms"`
}

func toCallJSON(st srtserver.CallStatus) callJSON {
	return callJSON{State: st.State, Since: formatTime(st.Since), LastError: st.LastError, NextAttemptAt: formatTime(st.NextAttempt),
		Reconnects: st.Reconnects, RemoteAddr: st.RemoteAddr, Bytes: st.Bytes, PacketsLost: st.Transport.PacketsLost,
		PacketsRetransmitted: st.Transport.PacketsRetransmitted, PacketsDropped: st.Transport.PacketsDropped,
		RTTMillis: float64(st.Transport.RTT.Microseconds()) / 1000}
}

// callee is where Podium is told to call: the fields common to the bodies
// of a caller source and a destination.
type callee struct {
	address    string
	streamID   *string
	passphrase *string
	latencyMS  *int64
}

// apply copies the fields, checking what the catalog cannot (the latency is
// given in milliseconds, a passphrase given empty).
func (c callee) apply(address, streamID, passphrase *string, latency *time.Duration) *Error {
	*address = c.address
	if c.streamID != nil {
		*streamID = *c.streamID
	}
	if c.passphrase != nil {
		if *c.passphrase == "" {
			return invalid("passphrase", "passphrase must be 10 to 79 characters, or left out for an unencrypted connection")
		}
		*passphrase = *c.passphrase
	}
	if c.latencyMS != nil {
		ms := *c.latencyMS
		if ms < catalog.MinLatency.Milliseconds() || ms > catalog.MaxLatency.Milliseconds() {
			return invalid("latency_ms", "latency_ms must be %d to %d, or left out for the server's",
				catalog.MinLatency.Milliseconds(), catalog.MaxLatency.Milliseconds())
		}
		*latency = time.Duration(ms) * time.Millisecond
	}
	return nil
}

type callerSourceRequest struct {
	Address    string  `json:"address"`
	StreamID   *string `json:"streamid"`
	Passphrase *string `json:"passphrase"`
	LatencyMS  *int64  `json:"latency_ms"`
	Role       *string `json:"role"`
}

type callerSourceJSON struct {
	FeedID    string `json:"feed_id"`
	Role      string `json:"role"`
	Address   string `json:"address"`
	StreamID  string `json:"streamid"`
	Encrypted bool   `json:"encrypted"`
	LatencyMS int64  `json:"latency_ms"`
	callJSON
	CreatedAt *string `json:"created_at"`
	UpdatedAt *string `json:"updated_at"`
}

// parseCallerSource reads the body of PUT /feeds/{id}/source into the feed's
// caller source, checked and with a canonical address.
func parseCallerSource(r *http.Request, feedID string) (catalog.CallerSource, *Error) {
	var req callerSourceRequest
	if err := decode(r, &req); err != nil {
		return catalog.CallerSource{}, err
	}
	src := catalog.CallerSource{FeedID: feedID, Role: catalog.RolePrimary}
	if req.Role != nil {
		src.Role = *req.Role
	}
	c := callee{address: req.Address, streamID: req.StreamID, passphrase: req.Passphrase, latencyMS: req.LatencyMS}
	if err := c.apply(&src.Address, &src.StreamID, &src.Passphrase, &src.Latency); err != nil {
		return catalog.CallerSource{}, err
	}
	if err := src.Validate(); err != nil {
		return catalog.CallerSource{}, fromDomain(err)
	}
	return src, nil
}

func (s *server) callerSourceJSON(src catalog.CallerSource) callerSourceJSON {
	out := callerSourceJSON{FeedID: src.FeedID, Role: src.Role, Address: src.Address, StreamID: src.StreamID,
		Encrypted: src.Passphrase != "", LatencyMS: s.latency(src.Latency).Milliseconds(),
		CreatedAt: formatTime(src.CreatedAt), UpdatedAt: formatTime(src.UpdatedAt)}
	st := srtserver.CallStatus{State: srtserver.StateConnecting, Since: s.now()}
	if s.Callers != nil {
		if live, ok := s.Callers.Status(src.FeedID); ok {
			st = live
		}
	}
	out.callJSON = toCallJSON(st)
	return out
}

// latency is the SRT latency of a call: its own, or the server's.
func (s *server) latency(d time.Duration) time.Duration {
	if d == 0 {
		return s.SRTLatency
	}
	return d
}

func (s *server) putCallerSource(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	snap := s.Store.Snapshot()
	if _, ok := snap.Feed(id); !ok {
		writeError(w, notFound("feed", id))
		return
	}
	src, apiErr := parseCallerSource(r, id)
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	now := s.now()
	src.CreatedAt, src.UpdatedAt = now, now
	if old, ok := snap.CallerSource(id); ok {
		src.CreatedAt = old.CreatedAt
	}
	if err := s.Store.PutCallerSource(r.Context(), src); err != nil {
		s.fail(w, r, err)
		return
	}
	s.Log.Info("caller source set", "feed", id, "source", src.Role, "address", src.Address, "encrypted", src.Passphrase != "")
	writeJSON(w, http.StatusOK, s.callerSourceJSON(src))
}

func (s *server) getCallerSource(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	snap := s.Store.Snapshot()
	if _, ok := snap.Feed(id); !ok {
		writeError(w, notFound("feed", id))
		return
	}
	src, ok := snap.CallerSource(id)
	if !ok {
		writeError(w, apiError(http.StatusNotFound, "not_found", "", "feed %q has no caller source", id))
		return
	}
	writeJSON(w, http.StatusOK, s.callerSourceJSON(src))
}

func (s *server) deleteCallerSource(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if _, ok := s.Store.Snapshot().Feed(id); !ok {
		writeError(w, notFound("feed", id))
		return
	}
	if err := s.Store.DeleteCallerSource(r.Context(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	s.Log.Info("caller source removed", "feed", id)
	w.WriteHeader(http.StatusNoContent)
}
