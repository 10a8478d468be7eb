package ingest

import (
	"testing"
	"time"
	"unsafe"

	"github.com/podium-broadcast/podium/internal/ts"
)

// A switch sends the new source's GOP in one piece. The buffers that carry
// it must not stay that size: a feed's memory would grow with its first
// switch and stay there (the soak saw it as memory rising a feed a minute).
func TestSwitchDoesNotKeepGOPSizedBuffers(t *testing.T) {
	w, _, clock := testSwitcher(t)
	primary, _ := w.Attach("f", Primary, "encoder-a")
	backup, _ := w.Attach("f", Backup, "encoder-b")
	a, b := sample(t, "ath-100m-final"), sample(t, "bkb-gold-game")
	half := len(b) / 2 / ts.PacketSize * ts.PacketSize
	write(t, primary, a)
	write(t, backup, b[:half])
	// The primary stalls; the backup goes on air from its latest keyframe.
	clock.advance(600 * time.Millisecond)
	write(t, backup, b[half:half+100*ts.PacketSize])
	f := w.feeds["f"]
	f.mu.Lock()
	gop := len(backup.gop)
	f.mu.Unlock()
	w.check()
	if st, _ := w.Status("f"); st.OnAir != Backup {
		t.Fatalf("after the primary stalled: %+v", st)
	}
	write(t, backup, b[half+100*ts.PacketSize:])

	f.mu.Lock()
	held := cap(f.out) + cap(f.hold.pending) + cap(f.hold.spare)
	f.mu.Unlock()
	if held >= gop {
		t.Errorf("after the switch the feed's output and holder keep %d bytes, the GOP it sent was %d", held, gop)
	}
}

// One long GOP (a keyframe lost in transit) grows a source's GOP buffer; it
// must not keep that size for the source's life, nor be reallocated at every
// GOP of a steady stream.
func TestALongGOPDoesNotKeepItsBuffer(t *testing.T) {
	s := &Source{}
	chunk := make([]byte, 7*ts.PacketSize)
	sendGOP := func(chunks int) {
		s.keep(chunk, 0)
		for range chunks - 1 {
			s.keep(chunk, -1)
		}
	}
	sendGOP(100)
	sendGOP(100)
	steady, array := cap(s.gop), unsafe.SliceData(s.gop)
	for range 3 * gopShrinkAfter {
		sendGOP(100)
	}
	if unsafe.SliceData(s.gop) != array {
		t.Fatal("a steady stream's GOP buffer was reallocated")
	}

	sendGOP(1000) // ten GOPs' worth without a keyframe
	for range gopShrinkAfter {
		sendGOP(100)
	}
	if cap(s.gop) <= 2*steady {
		t.Fatalf("the GOP buffer shrank to %d bytes before %d short GOPs in a row", cap(s.gop), gopShrinkAfter)
	}
	sendGOP(100)
	if cap(s.gop) > 2*steady {
		t.Fatalf("after %d short GOPs the GOP buffer still has %d bytes, a GOP needs %d", gopShrinkAfter+1, cap(s.gop), steady)
	}
}
