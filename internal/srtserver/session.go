package srtserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/podium-broadcast/podium/internal/delivery"
	"github.com/podium-broadcast/podium/internal/hub"
	"github.com/podium-broadcast/podium/internal/ingest"
	"github.com/podium-broadcast/podium/internal/srt"
	"github.com/podium-broadcast/podium/internal/ts"
)

// maxPayload is larger than any SRT payload (1456 bytes at most).
const maxPayload = 1500

// maxMessage is the most a delivery sends in one SRT message: seven
// transport packets, the payload every SRT receiver takes.
const maxMessage = 7 * ts.PacketSize

var (
	errPeerClosed = errors.New("peer closed the connection")
	// errSendQueueFull: what was written could not be sent within the lag bound.
	errSendQueueFull = fmt.Errorf("%w: the SRT send queue held data past the lag bound", hub.ErrLagging)
)

// publishSession carries an encoder's stream into the feed as its primary or backup source.
type publishSession struct {
	server *Server
	feedID string
	role   string
	conn   conn
	pub    *ingest.Source
	remote string
	since  time.Time
	// release gives back the connection's slot under the connection limits.
	release func()
}

func (p *publishSession) run(ctx context.Context) {
	s := p.server
	s.log.Info("srt publish open", "feed", p.feedID, "source", p.role, "remote", p.remote)
	s.metrics.connections.WithLabelValues("publish").Inc()

	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case <-done:
		case <-ctx.Done():
		case <-p.pub.Kicked():
		}
		p.conn.Close()
	})

	reason := p.receive()
	if kicked := p.pub.Reason(); kicked != nil {
		reason = kicked
	} else if ctx.Err() != nil {
		reason = hub.ErrShutdown
	}
	close(done)
	wg.Wait()
	p.pub.Detach()
	p.release()

	s.mu.Lock()
	if key := p.feedID + "/" + p.role; s.publishers[key] == p {
		delete(s.publishers, key)
	}
	s.mu.Unlock()
	st := p.conn.Stats()
	s.metrics.addIngest(p.feedID, st)
	level := s.log.Info
	if errors.Is(reason, ts.ErrNotTS) {
		level = s.log.Warn
	}
	level("srt publish close", "feed", p.feedID, "source", p.role, "remote", p.remote, "reason", reason.Error(),
		"bytes", p.pub.BytesIn(), "duration", time.Since(p.since).Round(time.Millisecond),
		"packets_lost", st.PktRecvLoss, "packets_dropped", st.PktRecvDrop, "packets_retransmitted", st.PktRetrans)
}

// receive copies the publisher's messages into the hub until the connection
// ends or the data is not a transport stream.
func (p *publishSession) receive() error {
	buf := make([]byte, maxPayload)
	for {
		n, err := p.conn.Read(buf)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return errPeerClosed
			}
			return err
		}
		if err := p.pub.Write(buf[:n]); err != nil {
			return err
		}
	}
}

// Stats returns the publisher connection's counters.
func (p *publishSession) Stats() delivery.TransportStats {
	return transportStats(p.conn.Stats())
}

func transportStats(st connStats) delivery.TransportStats {
	return delivery.TransportStats{
		PacketsSent: st.PktSent, PacketsRetransmitted: st.PktRetrans,
		PacketsLost: st.PktSendLoss + st.PktRecvLoss, PacketsDropped: st.PktSendDrop + st.PktRecvDrop,
		RTT: st.RTT,
	}
}

// pullSession delivers a feed to one broadcaster's receiver: one that called
// in (mode "request") or one that Podium called (mode "push").
type pullSession struct {
	server   *Server
	conn     conn
	reader   *hub.Reader
	delivery *delivery.Delivery
	mode     string
	// release gives back the connection's slot under the connection limits.
	release func()
	// catchUp is the delivery's catch-up slot while it sends its backlog, or nil.
	catchUp *catchUp

	// Receiver progress, as seen by Server.watchReceivers only.
	lastSent, lastACK uint64
	lastProgress      time.Time
}

// track registers a delivery session that is about to run.
func (s *Server) track(p *pullSession) {
	s.deliveries.Add(p.delivery, p)
	s.mu.Lock()
	s.pulls[p] = struct{}{}
	s.mu.Unlock()
}

// run delivers until the reader or the connection is closed, and returns why.
func (p *pullSession) run(ctx context.Context) error {
	s := p.server
	d := p.delivery
	s.log.Info("srt delivery open", "feed", d.FeedID, "broadcaster", d.BroadcasterID, "remote", d.RemoteAddr, "protocol", d.Protocol)
	s.metrics.connections.WithLabelValues(p.mode).Inc()

	var wg sync.WaitGroup
	// A receiver sends no data, so a Read returns only when the connection ends.
	wg.Go(func() {
		var buf [maxPayload]byte
		for {
			if _, err := p.conn.Read(buf[:]); err != nil {
				p.reader.Close(errPeerClosed)
				return
			}
		}
	})
	reason := p.send(ctx)
	p.catchUp.done()
	if ctx.Err() != nil && !errors.Is(reason, hub.ErrShutdown) {
		reason = hub.ErrShutdown
	}
	p.reader.Close(reason)
	p.conn.Close()
	wg.Wait()

	s.deliveries.Remove(d)
	p.release()
	s.mu.Lock()
	delete(s.pulls, p)
	s.mu.Unlock()
	st := p.conn.Stats()
	s.metrics.addDelivery(d.FeedID, st)
	s.log.Info("srt delivery close", "feed", d.FeedID, "broadcaster", d.BroadcasterID, "remote", d.RemoteAddr, "protocol", d.Protocol,
		"reason", reason.Error(), "bytes", d.Bytes(), "duration", time.Since(d.Since).Round(time.Millisecond),
		"packets_retransmitted", st.PktRetrans, "packets_lost", st.PktSendLoss, "packets_dropped", st.PktSendDrop)
	return reason
}

// send writes the feed to the receiver until the reader is closed.
func (p *pullSession) send(ctx context.Context) error {
	chunks := make([][]byte, 0, 64)
	for {
		var err error
		chunks, err = p.reader.Next(ctx, chunks[:0])
		if err != nil {
			return err
		}
		for _, c := range chunks {
			if err := p.write(c); err != nil {
				return err
			}
			p.reader.Wrote(len(c))
			p.delivery.AddBytes(len(c))
		}
		if p.catchUp != nil && p.conn.Unsent() < catchUpDone {
			p.catchUp.done()
			p.catchUp = nil
		}
	}
}

// write sends one chunk, as messages of at most seven transport packets
// (the PAT and PMT a reader starts with can be longer). A send queue that
// refuses it means the receiver is more than the lag bound behind: it is cut.
func (p *pullSession) write(chunk []byte) error {
	for len(chunk) > 0 {
		n := min(len(chunk), maxMessage)
		if _, err := p.conn.Write(chunk[:n]); err != nil {
			if errors.Is(err, srt.ErrSendQueueFull) {
				return errSendQueueFull
			}
			return err
		}
		chunk = chunk[n:]
	}
	return nil
}

// stalled reports whether the receiver has acknowledged nothing for maxLag while data was being sent.
func (p *pullSession) stalled(now time.Time, maxLag time.Duration) bool {
	st := p.conn.Stats()
	if st.PktRecvACK != p.lastACK || st.PktSent == p.lastSent {
		p.lastACK, p.lastSent, p.lastProgress = st.PktRecvACK, st.PktSent, now
		return false
	}
	return now.Sub(p.lastProgress) > maxLag
}

// Stats returns the delivery connection's counters.
func (p *pullSession) Stats() delivery.TransportStats { return transportStats(p.conn.Stats()) }

// Close ends the delivery with reason.
func (p *pullSession) Close(reason error) { p.reader.Close(reason) }
