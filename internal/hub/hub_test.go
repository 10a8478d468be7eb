package hub

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/podium-broadcast/podium/internal/ts"
)

// clock is a settable time source for tests.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2028, 7, 14, 20, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// TestInternalReaderRidesOutAStallThatCutsAReceiver: the recorder (an
// internal reader) stalled 3 s, as on a disk that stalls, gets every chunk
// afterwards, where a receiver stalled as long is cut; stalled past its own
// bound, the internal reader is cut too, and the ring lets go of what it held.
func TestInternalReaderRidesOutAStallThatCutsAReceiver(t *testing.T) {
	h, c := testHub(t, Config{Grace: time.Second, MaxLag: 500 * time.Millisecond, InternalMaxLag: 5 * time.Second, RingChunks: 4096})
	f := h.Feed("f")
	p, _ := f.Attach("a")
	var s stream
	p.Write(s.chunk(true, 0))
	recorder, _ := f.NewInternalReader()
	receiver, _ := f.NewReader()
	read(t, recorder)
	read(t, receiver)
	var want []byte
	write := func(n int) {
		for i := range n {
			c.advance(10 * time.Millisecond)
			chunk := s.chunk(i%50 == 0, byte(i))
			want = append(want, chunk...)
			if err := p.Write(chunk); err != nil {
				t.Fatalf("publisher refused at chunk %d: %v", i, err)
			}
		}
	}
	write(300) // 3 s
	if _, err := receiver.Next(context.Background(), make([][]byte, 0, 8)); !errors.Is(err, ErrLagging) {
		t.Fatalf("receiver stalled 3 s: %v, want ErrLagging", err)
	}
	var got []byte
	for len(got) < len(want) {
		chunks, err := recorder.Next(context.Background(), make([][]byte, 0, 64))
		if err != nil {
			t.Fatalf("recorder after a 3 s stall, %d of %d bytes: %v", len(got), len(want), err)
		}
		got = append(got, bytes.Join(chunks, nil)...)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("the recorder got %d bytes, not the %d written during its stall", len(got), len(want))
	}
	write(600) // 6 s more, unread
	if _, err := recorder.Next(context.Background(), make([][]byte, 0, 8)); !errors.Is(err, ErrLagging) {
		t.Fatalf("recorder stalled 6 s: %v, want ErrLagging", err)
	}
	write(1)
	if st := f.Stats(); st.BufferedBytes > 150*7*188 {
		t.Fatalf("%d bytes buffered once no reader needs them", st.BufferedBytes)
	}
}

func testHub(t *testing.T, cfg Config) (*Hub, *clock) {
	t.Helper()
	c := newClock()
	h := New(cfg)
	h.now = c.now
	return h, c
}

// stream builds a synthetic feed: PAT, PMT (H.264 video on 0x100, audio on
// 0x101) and GOPs of the given number of chunks, each chunk 7 packets. The
// first chunk of each GOP holds PAT, PMT, then the IDR.
type stream struct {
	cc [0x2000]byte
}

func (s *stream) pkt(pid int, pusi bool, payload []byte) []byte {
	p := make([]byte, 188)
	p[0] = 0x47
	p[1] = byte(pid >> 8)
	if pusi {
		p[1] |= 0x40
	}
	p[2] = byte(pid)
	p[3] = 0x10 | s.cc[pid]&0x0F
	s.cc[pid]++
	copy(p[4:], payload)
	return p
}

func (s *stream) psi() []byte {
	pat := s.pkt(0, true, []byte{0, 0x00, 0xB0, 13, 0, 1, 0xC1, 0, 0, 0, 1, 0xF0, 0x00, 0, 0, 0, 0})
	pmt := s.pkt(0x1000, true, []byte{0, 0x02, 0xB0, 23, 0, 1, 0xC1, 0, 0, 0xE1, 0x00, 0xF0, 0,
		0x1B, 0xE1, 0x00, 0xF0, 0, 0x0F, 0xE1, 0x01, 0xF0, 0, 0, 0, 0, 0})
	return append(pat, pmt...)
}

func (s *stream) chunk(keyframe bool, marker byte) []byte {
	var out []byte
	n := 7
	if keyframe {
		out = s.psi()
		n = 5
		out = append(out, s.pkt(0x100, true, []byte{0, 0, 1, 0xE0, 0, 0, 0x80, 0, 0, 0, 0, 0, 1, 0x65, marker})...)
		n--
	}
	for range n {
		out = append(out, s.pkt(0x101, false, []byte{marker})...)
	}
	return out
}

func read(t *testing.T, r *Reader) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	chunks, err := r.Next(ctx, make([][]byte, 0, 64))
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return bytes.Join(chunks, nil)
}

func TestReaderStartsAtLatestAccessPointWithPSIFirst(t *testing.T) {
	h, _ := testHub(t, DefaultConfig)
	f := h.Feed("ath-100m-final")
	p, err := f.Attach("10.0.0.1:5000")
	if err != nil {
		t.Fatal(err)
	}
	var s stream
	var written [][]byte
	for i := range 12 {
		c := s.chunk(i%5 == 0, byte(i))
		written = append(written, c)
		if err := p.Write(c); err != nil {
			t.Fatal(err)
		}
	}
	r, err := f.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	got := read(t, r)
	// Latest keyframe chunk is 10: its PAT/PMT are the PSI, then the IDR packet on.
	want := append([]byte{}, written[10][:2*188]...)
	want = append(want, written[10][2*188:]...)
	want = append(want, written[11]...)
	if !bytes.Equal(got, want) {
		t.Fatalf("reader got %d bytes, want %d: not PSI + stream from the access point", len(got), len(want))
	}
	// Then the stream continues unchanged.
	next := s.chunk(false, 99)
	p.Write(next)
	if got := read(t, r); !bytes.Equal(got, next) {
		t.Fatal("live chunk altered")
	}
}

func TestReaderWaitsForFirstAccessPoint(t *testing.T) {
	h, _ := testHub(t, DefaultConfig)
	f := h.Feed("f")
	p, _ := f.Attach("a")
	var s stream
	s.psi()
	p.Write(s.chunk(false, 1)) // no PSI or keyframe yet
	r, _ := f.NewReader()
	p.Write(s.chunk(false, 2))
	key := s.chunk(true, 3)
	p.Write(key)
	if got := read(t, r); !bytes.Equal(got, key) {
		t.Fatalf("reader did not start exactly at the first keyframe chunk")
	}
}

// TestReaderWaitingStartsAtTheFirstAccessPointEvenIfItReadsLate: a reader
// that waits for an access point starts at the first to arrive, though it
// calls Next only after two more GOPs: it misses nothing from there on.
func TestReaderWaitingStartsAtTheFirstAccessPointEvenIfItReadsLate(t *testing.T) {
	h, _ := testHub(t, DefaultConfig)
	f := h.Feed("f")
	p, _ := f.Attach("a")
	var s stream
	s.psi()
	r, _ := f.NewReader()
	var want []byte
	for i := range 9 {
		c := s.chunk(i%3 == 0, byte(i))
		p.Write(c)
		want = append(want, c...)
	}
	if got := read(t, r); !bytes.Equal(got, want) {
		t.Fatalf("the reader got %d bytes, want the %d from the first keyframe", len(got), len(want))
	}
}

func TestSlowReaderIsCutAndOthersContinue(t *testing.T) {
	h, c := testHub(t, Config{Grace: time.Second, MaxLag: 500 * time.Millisecond, RingChunks: 1024})
	f := h.Feed("f")
	p, _ := f.Attach("a")
	var s stream
	p.Write(s.chunk(true, 0))
	fast, _ := f.NewReader()
	slow, _ := f.NewReader()
	read(t, fast)
	read(t, slow)
	// 2 s of chunks at 10 ms: the publisher never waits; the fast reader keeps up.
	for i := range 200 {
		c.advance(10 * time.Millisecond)
		if err := p.Write(s.chunk(i%50 == 0, byte(i))); err != nil {
			t.Fatalf("publisher blocked or refused at chunk %d: %v", i, err)
		}
		read(t, fast)
	}
	if _, err := slow.Next(context.Background(), make([][]byte, 0, 8)); !errors.Is(err, ErrLagging) {
		t.Fatalf("slow reader: %v, want ErrLagging", err)
	}
	if st := f.Stats(); st.LaggingCuts != 1 || st.Readers != 1 {
		t.Fatalf("stats after cut: %+v", st)
	}
	if err := fast.Err(); err != nil {
		t.Fatalf("fast reader closed: %v", err)
	}
}

func TestRingCapacityBoundsMemory(t *testing.T) {
	h, _ := testHub(t, Config{Grace: time.Second, MaxLag: time.Hour, RingChunks: 64})
	f := h.Feed("f")
	p, _ := f.Attach("a")
	var s stream
	p.Write(s.chunk(true, 0))
	r, _ := f.NewReader()
	read(t, r)
	for i := range 1000 {
		p.Write(s.chunk(i%10 == 0, byte(i)))
	}
	if st := f.Stats(); st.BufferedBytes > 64*1316 {
		t.Fatalf("feed holds %d bytes, more than its ring", st.BufferedBytes)
	}
	if _, err := r.Next(context.Background(), make([][]byte, 0, 8)); !errors.Is(err, ErrLagging) {
		t.Fatalf("reader overrun by the ring: %v, want ErrLagging", err)
	}
}

func TestSecondPublisherIsRefusedAndReconnectKeepsReaders(t *testing.T) {
	h, c := testHub(t, Config{Grace: 10 * time.Second, MaxLag: time.Second, RingChunks: 1024})
	f := h.Feed("f")
	p1, _ := f.Attach("a")
	if _, err := f.Attach("b"); !errors.Is(err, ErrPublisherActive) {
		t.Fatalf("second publisher: %v", err)
	}
	var s stream
	p1.Write(s.chunk(true, 1))
	r, _ := f.NewReader()
	read(t, r)
	p1.Detach()
	if err := p1.Write(s.chunk(false, 2)); err == nil {
		t.Fatal("detached publisher could still write")
	}
	c.advance(9 * time.Second)
	h.Feed("f").housekeep(c.now())
	p2, err := f.Attach("b")
	if err != nil {
		t.Fatalf("reconnect within grace: %v", err)
	}
	c.advance(5 * time.Second)
	f.housekeep(c.now())
	next := s.chunk(false, 3)
	p2.Write(next)
	if got := read(t, r); !bytes.Equal(got, next) {
		t.Fatal("reader did not resume with the new publisher's stream")
	}
}

func TestReaderJoiningOfflineFeedWaitsForNewPublishersKeyframe(t *testing.T) {
	h, _ := testHub(t, DefaultConfig)
	f := h.Feed("f")
	p1, _ := f.Attach("a")
	var s stream
	p1.Write(s.chunk(true, 1))
	p1.Write(s.chunk(false, 2))
	p1.Detach()
	r, _ := f.NewReader() // joins while offline: nothing stale to show
	p2, err := f.Attach("b")
	if err != nil {
		t.Fatal(err)
	}
	p2.Write(s.chunk(false, 3)) // the new encoder's first chunk is not a keyframe
	late, _ := f.NewReader()    // joins after reconnect, before the first keyframe
	key := s.chunk(true, 4)
	p2.Write(key)
	for name, r := range map[string]*Reader{"offline": r, "reconnected": late} {
		if got := read(t, r); !bytes.Equal(got, key) {
			t.Fatalf("reader that joined %s did not start at the new publisher's keyframe (got %d bytes)", name, len(got))
		}
	}
}

func TestReadersLeaveAfterGrace(t *testing.T) {
	h, c := testHub(t, Config{Grace: 10 * time.Second, MaxLag: time.Second, RingChunks: 1024})
	f := h.Feed("f")
	p, _ := f.Attach("a")
	r, _ := f.NewReader()
	p.Detach()
	c.advance(9 * time.Second)
	f.housekeep(c.now())
	if r.Err() != nil {
		t.Fatal("reader closed before the grace period")
	}
	c.advance(time.Second)
	f.housekeep(c.now())
	if !errors.Is(r.Err(), ErrFeedOffline) {
		t.Fatalf("reader after grace: %v", r.Err())
	}
}

func TestRemoveKicksEveryone(t *testing.T) {
	h, _ := testHub(t, DefaultConfig)
	f := h.Feed("f")
	p, _ := f.Attach("a")
	r, _ := f.NewReader()
	done := make(chan error)
	go func() {
		_, err := r.Next(context.Background(), make([][]byte, 0, 8))
		done <- err
	}()
	h.Remove("f", ErrFeedRemoved)
	if err := <-done; !errors.Is(err, ErrFeedRemoved) {
		t.Fatalf("waiting reader: %v", err)
	}
	select {
	case <-p.Kicked():
	default:
		t.Fatal("publisher not kicked")
	}
	if _, err := f.NewReader(); !errors.Is(err, ErrFeedRemoved) {
		t.Fatal("removed feed accepted a reader")
	}
}

func TestConcurrentFanOutDeliversIdenticalStreams(t *testing.T) {
	h := New(Config{Grace: time.Second, MaxLag: 5 * time.Second, RingChunks: 4096})
	f := h.Feed("f")
	p, _ := f.Attach("a")
	var s stream
	first := s.chunk(true, 0)
	p.Write(first)
	const readers, chunks = 8, 2000
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var want bytes.Buffer
	want.Write(first)
	results := make([][]byte, readers)
	var wg sync.WaitGroup
	for i := range readers {
		r, _ := f.NewReader()
		wg.Go(func() {
			var got bytes.Buffer
			buf := make([][]byte, 0, 32)
			for got.Len() < chunks*1316+len(first) {
				var err error
				buf, err = r.Next(ctx, buf[:0])
				if err != nil {
					t.Errorf("reader %d: %v", i, err)
					return
				}
				for _, c := range buf {
					got.Write(c)
				}
			}
			results[i] = got.Bytes()
		})
	}
	for i := range chunks {
		c := s.chunk(i%100 == 0, byte(i))
		want.Write(c)
		if err := p.Write(c); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	for i, got := range results {
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("reader %d received a different stream (%d bytes, want %d)", i, len(got), want.Len())
		}
	}
}

func TestSteadyStateDoesNotAllocatePerReader(t *testing.T) {
	h, _ := testHub(t, DefaultConfig)
	f := h.Feed("f")
	p, _ := f.Attach("a")
	var s stream
	p.Write(s.chunk(true, 0))
	r, _ := f.NewReader()
	buf := make([][]byte, 0, 8)
	chunk := s.chunk(false, 1)
	ctx := context.Background()
	buf, _ = r.Next(ctx, buf[:0])
	allocs := testing.AllocsPerRun(500, func() {
		p.Write(chunk)
		buf, _ = r.Next(ctx, buf[:0])
	})
	// One arena block per ~49 chunks of 1316 bytes, nothing per reader.
	if allocs > 0.05 {
		t.Fatalf("%.3f allocations per chunk", allocs)
	}
}

func TestPublisherReassemblesPacketsAcrossPayloads(t *testing.T) {
	h, _ := testHub(t, DefaultConfig)
	f := h.Feed("f")
	p, _ := f.Attach("a")
	var s stream
	var in []byte
	for i := range 200 {
		in = append(in, s.chunk(i%20 == 0, byte(i))...)
	}
	// srt-live-transmit's default reads stdin 1456 bytes at a time.
	p.Write(in[:1456])
	r, _ := f.NewReader()
	for rest := in[1456:]; len(rest) > 0; {
		n := min(1456, len(rest))
		if err := p.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	var out []byte
	for len(out) < len(in) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		chunks, err := r.Next(ctx, make([][]byte, 0, 512))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range chunks {
			if len(c) > 1316 || len(c)%188 != 0 {
				t.Fatalf("chunk of %d bytes: not at most 7 whole packets", len(c))
			}
			out = append(out, c...)
		}
	}
	if !bytes.Equal(out, in) {
		t.Fatal("stream altered by reassembly")
	}
}

func TestPublisherRefusesGarbage(t *testing.T) {
	h, _ := testHub(t, DefaultConfig)
	p, _ := h.Feed("f").Attach("a")
	var s stream
	good := s.chunk(true, 1)
	if err := p.Write(good[:100]); err != nil {
		t.Fatalf("partial packet refused: %v", err)
	}
	if err := p.Write([]byte(strings.Repeat("not a transport stream ", 20))); !errors.Is(err, ts.ErrNotTS) {
		t.Fatalf("garbage accepted: %v", err)
	}
}

func TestBitrateHistoryKeepsTheLastMinutesOldestFirst(t *testing.T) {
	h, c := testHub(t, DefaultConfig)
	f := h.Feed("f")
	for i := range HistoryLength + 3 {
		c.advance(HistoryInterval)
		f.bitrate.Store(uint64(i))
		f.housekeep(c.now())
	}
	got := f.BitrateHistory()
	if len(got) != HistoryLength {
		t.Fatalf("history has %d samples, want %d", len(got), HistoryLength)
	}
	for i, v := range got {
		// housekeep smooths the stored rate; what counts is the order.
		if i > 0 && v < got[i-1] {
			t.Fatalf("history not oldest first at %d: %v", i, got[i-3:i+1])
		}
	}
}

func TestPublisherOverMaxBitrateIsCut(t *testing.T) {
	var cutFeed string
	var cutErr error
	cfg := DefaultConfig
	cfg.MaxBitrate = 8_000_000
	cfg.BitrateExceeded = func(feed string, err error) { cutFeed, cutErr = feed, err }
	h, c := testHub(t, cfg)
	f := h.Feed("f")
	p, _ := f.Attach("a")
	var s stream
	// tick writes the given bit rate's worth of 250 ms, then lets the hub measure.
	tick := func(bps int) {
		for n := 0; n < bps/8/4; n += 7 * 188 {
			if err := p.Write(s.chunk(n == 0, 1)); err != nil {
				t.Fatal(err)
			}
		}
		c.advance(250 * time.Millisecond)
		f.housekeep(c.now())
	}
	// A burst (keyframes) above the limit, then the normal rate: not cut.
	tick(40_000_000)
	for range 20 {
		tick(4_000_000)
	}
	if p.Reason() != nil {
		t.Fatalf("cut for a burst: %v", p.Reason())
	}
	// Sustained above the limit: cut once the average has been above it for 2 s.
	start := c.now()
	for p.Reason() == nil && c.now().Sub(start) < 10*time.Second {
		tick(12_000_000)
	}
	took := c.now().Sub(start)
	if !errors.Is(p.Reason(), ErrBitrateExceeded) || took < BitrateSustain || took > BitrateSustain+2*time.Second {
		t.Fatalf("after %v at 12 Mbit/s: reason %v", took, p.Reason())
	}
	select {
	case <-p.Kicked():
	default:
		t.Fatal("publisher not kicked")
	}
	if cutFeed != "f" || !errors.Is(cutErr, ErrBitrateExceeded) || !strings.Contains(cutErr.Error(), "max_publish_bitrate 8.0 Mbit/s") {
		t.Fatalf("told of the cut: %q %v", cutFeed, cutErr)
	}
}

// TestInternalReadersAreNotCounted: the recorder's and the HLS muxer's
// readers read the feed but are not among its readers in the figures.
func TestInternalReadersAreNotCounted(t *testing.T) {
	f := New(DefaultConfig).Feed("f")
	internal, err := f.NewInternalReader()
	if err != nil {
		t.Fatal(err)
	}
	receiver, err := f.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Stats().Readers; got != 1 {
		t.Fatalf("readers = %d with one receiver and one internal reader; want 1", got)
	}
	internal.Close(ErrLagging)
	receiver.Close(ErrShutdown)
	if st := f.Stats(); st.Readers != 0 || st.LaggingCuts != 0 {
		t.Fatalf("after both left: %+v", st)
	}
}

// A reader that joins just before a keyframe starts a whole GOP back, at the
// previous one. When the next keyframe arrives before the reader has read
// anything (many receivers joining at once, a busy machine), the GOP it
// starts in must still be there: it has the lag bound from its start.
func TestReaderJoiningLateInAGOPKeepsItsGOP(t *testing.T) {
	h, c := testHub(t, Config{Grace: time.Second, MaxLag: time.Second, RingChunks: 1 << 16})
	f := h.Feed("f")
	p, _ := f.Attach("a")
	var s stream
	const gop = 50 // chunks, 20 ms apart: a 1 s GOP
	for i := range gop {
		p.Write(s.chunk(i == 0, byte(i)))
		c.advance(20 * time.Millisecond)
	}
	r, err := f.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	// The next GOP arrives, and part of a third, before the reader reads.
	for i := range gop + 10 {
		p.Write(s.chunk(i%gop == 0, byte(gop+i)))
		c.advance(10 * time.Millisecond)
	}
	var got []byte
	for len(got) < (3*gop+10)*7*188 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		chunks, err := r.Next(ctx, make([][]byte, 0, 64))
		cancel()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				break
			}
			t.Fatalf("reader cut after %d bytes: %v", len(got), err)
		}
		got = append(got, bytes.Join(chunks, nil)...)
	}
	// PSI, then the first GOP from its keyframe, then everything after.
	if want := (2*gop + 10) * 7 * 188; len(got) < want {
		t.Fatalf("reader got %d bytes, want at least %d (both GOPs)", len(got), want)
	}
}

// The ring grows past its initial size while the lag bound needs it: at
// 400 Mbit/s a second is about 38,000 chunks.
func TestRingGrowsToHoldTheLagBoundAtHighRates(t *testing.T) {
	h, c := testHub(t, Config{Grace: time.Second, MaxLag: time.Second, RingChunks: 1 << 18})
	f := h.Feed("f")
	p, _ := f.Attach("a")
	var s stream
	p.Write(s.chunk(true, 0))
	r, _ := f.NewReader()
	read(t, r)
	const perSecond = 38_000
	for i := range perSecond / 2 {
		p.Write(s.chunk(false, byte(i)))
		c.advance(time.Second / perSecond)
	}
	n := 0
	for n < perSecond/2 {
		chunks, err := r.Next(context.Background(), make([][]byte, 0, 1024))
		if err != nil {
			t.Fatalf("reader half a second behind cut after %d chunks: %v", n, err)
		}
		n += len(chunks)
	}
}

func TestReaderNearLiveEdgeSkipsABacklogOfMoreThanHalfAGOP(t *testing.T) {
	h, c := testHub(t, DefaultConfig)
	f := h.Feed("f")
	p, _ := f.Attach("a")
	var s stream
	for i := range 20 { // two GOPs of 10 chunks, 20 ms apart
		p.Write(s.chunk(i%10 == 0, byte(i)))
		c.advance(20 * time.Millisecond)
	}
	if r, _ := f.NewReaderNearLiveEdge(); r != nil {
		r.Close(nil)
	}
	r, err := f.NewReaderNearLiveEdge() // 200 ms since the keyframe of a 200 ms GOP
	if err != nil {
		t.Fatal(err)
	}
	p.Write(s.chunk(false, 10)) // not an access point: nothing for the reader yet
	p.Write(s.chunk(true, 11))
	got := read(t, r)
	if len(got) < 188 || got[0] != 0x47 || got[1]&0x1F != 0 || got[2] != 0 {
		t.Fatalf("reader does not start with the PAT")
	}
	if !bytes.Contains(got, []byte{0x65, 11}) {
		t.Fatalf("reader did not start at the new keyframe")
	}
	if bytes.Contains(got, []byte{0x65, 10}) {
		t.Fatalf("reader got the backlog's keyframe")
	}

	// Within half a GOP of a keyframe, a reader starts there.
	c.advance(60 * time.Millisecond)
	near, err := f.NewReaderNearLiveEdge()
	if err != nil {
		t.Fatal(err)
	}
	if got := read(t, near); !bytes.Contains(got, []byte{0x65, 11}) {
		t.Fatalf("reader 60 ms after a keyframe did not start at it")
	}
}
