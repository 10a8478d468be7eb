package tsloop

import (
	"bytes"
	"testing"
)

// timestampPacket is a packet starting a video PES with a PTS and a DTS.
func timestampPacket(pts, dts int64) []byte {
	var m muxer
	return m.packet(synthVideo, true, noPCR, pes(0xE0, pts, dts))
}

func TestShiftTimestamp(t *testing.T) {
	for _, tc := range []struct {
		name        string
		ts, shift   int64
		want        int64
		wantChanged bool
	}{
		{"zero shift", 123456, 0, 123456, false},
		{"one loop", 129600, 432000, 561600, true},
		{"top bit", 1<<32 + 12345, 1 << 31, 1<<32 + 1<<31 + 12345, true},
		{"to the last tick", ptsWrap - 432001, 432000, ptsWrap - 1, true},
		{"across the wrap", ptsWrap - 1000, 432000, 431000, true},
		{"many loops", 129600, 1_000_000 * 432000, (129600 + 1_000_000*432000) % ptsWrap, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkt := timestampPacket(tc.ts, tc.ts-3600)
			before := bytes.Clone(pkt)
			pts, dts := pesTimestamps(pkt)
			if pts == 0 || dts == 0 {
				t.Fatalf("no PTS or DTS found: %d, %d", pts, dts)
			}
			shiftTimestamp(pkt, pts, tc.shift)
			shiftTimestamp(pkt, dts, tc.shift)
			if got := readTimestamp(pkt, pts); got != tc.want {
				t.Errorf("PTS %d + %d = %d, want %d", tc.ts, tc.shift, got, tc.want)
			}
			if got, want := readTimestamp(pkt, dts), mod(tc.want-3600, ptsWrap); got != want {
				t.Errorf("DTS = %d, want %d", got, want)
			}
			// Prefix and marker bits stay; nothing else changes.
			for _, off := range []int{pts, dts} {
				f, was := pkt[off:off+5], before[off:off+5]
				if f[0]&0xF1 != was[0]&0xF1 || f[2]&1 != 1 || f[4]&1 != 1 {
					t.Errorf("prefix or marker bits clobbered: % x, was % x", f, was)
				}
			}
			if changed := !bytes.Equal(pkt, before); changed != tc.wantChanged {
				t.Errorf("packet changed = %v, want %v", changed, tc.wantChanged)
			}
		})
	}
}

func TestPESTimestamps(t *testing.T) {
	var m muxer
	withPTS := m.packet(synthAudio, true, noPCR, pes(0xC0, 90000, noPCR))
	withBoth := m.packet(synthVideo, true, noPCR, pes(0xE0, 93600, 90000))
	withPCR := m.packet(synthVideo, true, 81000*300, pes(0xE0, 93600, 90000))
	continuation := m.packet(synthVideo, false, noPCR, pes(0xE0, 93600, 90000))
	padding := m.packet(synthVideo, true, noPCR, []byte{0, 0, 1, 0xBE, 0, 0, 0x80, 0x80, 5, 0x21, 0, 1, 0, 1})
	truncated := m.packet(synthVideo, true, noPCR, []byte{0, 0, 1, 0xE0, 0, 0, 0x80, 0xC0, 10, 0x31, 0, 1, 0, 1})
	noMarker := m.packet(synthVideo, true, noPCR, []byte{0, 0, 1, 0xE0, 0, 0, 0x00, 0x80, 5, 0x21, 0, 1, 0, 1})
	for _, tc := range []struct {
		name               string
		pkt                []byte
		wantPTS, wantDTS   int64
		hasPTS, hasDTSWant bool
	}{
		{"PTS only", withPTS, 90000, 0, true, false},
		{"PTS and DTS", withBoth, 93600, 90000, true, true},
		{"after an adaptation field", withPCR, 93600, 90000, true, true},
		{"not a unit start", continuation, 0, 0, false, false},
		{"stream without the optional header", padding, 0, 0, false, false},
		{"header longer than the packet", truncated, 0, 0, false, false},
		{"MPEG-1 style header", noMarker, 0, 0, false, false},
		{"short slice", withBoth[:100], 0, 0, false, false},
		{"no sync byte", append([]byte{0}, withBoth[1:]...), 0, 0, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pts, dts := pesTimestamps(tc.pkt)
			if (pts != 0) != tc.hasPTS || (dts != 0) != tc.hasDTSWant {
				t.Fatalf("PTS at %d, DTS at %d; want PTS %v, DTS %v", pts, dts, tc.hasPTS, tc.hasDTSWant)
			}
			if got := readTimestamp(tc.pkt, pts); tc.hasPTS && got != tc.wantPTS {
				t.Errorf("PTS %d, want %d", got, tc.wantPTS)
			}
			if got := readTimestamp(tc.pkt, dts); tc.hasDTSWant && got != tc.wantDTS {
				t.Errorf("DTS %d, want %d", got, tc.wantDTS)
			}
		})
	}
}

func TestTimestampFieldBounds(t *testing.T) {
	f := []byte{0x31, 0, 1, 0, 1}
	for _, off := range []int{0, -1, 1, 5} {
		writeTimestamp(f, off, 12345)
		if got := readTimestamp(f, off); got != 0 {
			t.Errorf("offset %d of a 5-byte slice read as %d", off, got)
		}
	}
	if !bytes.Equal(f, []byte{0x31, 0, 1, 0, 1}) {
		t.Errorf("out-of-bounds writes changed the slice: % x", f)
	}
}

func TestShiftPCR(t *testing.T) {
	for _, tc := range []struct {
		name       string
		pcr, shift int64
		want       int64
	}{
		{"zero shift", 27_000_000 + 299, 0, 27_000_000 + 299},
		{"extension kept", 63000*300 + 123, 432000, (63000+432000)*300 + 123},
		{"to the last tick", pcrWrap - 300*432000 - 1, 432000, pcrWrap - 1},
		{"across the wrap", pcrWrap - 300*1000 + 7, 432000, 300*431000 + 7},
		{"many loops", 63000 * 300, 1_000_000 * 432000, (63000 + 1_000_000*432000) % ptsWrap * 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m muxer
			pkt := m.packet(synthVideo, false, tc.pcr, nil)
			if got, ok := readPCR(pkt); !ok || got != tc.pcr {
				t.Fatalf("PCR %d read back as %d, %v", tc.pcr, got, ok)
			}
			shiftPCR(pkt, tc.shift)
			if got, _ := readPCR(pkt); got != tc.want {
				t.Errorf("PCR %d + %d×300 = %d, want %d", tc.pcr, tc.shift, got, tc.want)
			}
			if pkt[10]&0x7E != 0x7E {
				t.Errorf("reserved bits clobbered: %#x", pkt[10])
			}
		})
	}
}

func TestReadPCRWithout(t *testing.T) {
	var m muxer
	stuffingOnly := m.packet(synthVideo, false, noPCR, make([]byte, 100))
	shortAdaptation := m.packet(synthVideo, false, 27_000_000, nil)
	shortAdaptation[4] = 6
	for name, pkt := range map[string][]byte{
		"no adaptation field":         m.packet(synthVideo, false, noPCR, make([]byte, 184)),
		"adaptation field without":    stuffingOnly,
		"adaptation field too short":  shortAdaptation,
		"short slice":                 shortAdaptation[:10],
		"PCR flag in a broken packet": append([]byte{0}, shortAdaptation[1:]...),
	} {
		if pcr, ok := readPCR(pkt); ok {
			t.Errorf("%s: read PCR %d", name, pcr)
		}
		before := bytes.Clone(pkt)
		shiftPCR(pkt, 432000)
		if !bytes.Equal(pkt, before) {
			t.Errorf("%s: shifting the PCR of a packet without one changed it", name)
		}
	}
}

// TestPatchContinuity follows the counters of one PID across a loop
// boundary: payload packets count on, packets without payload repeat the
// counter (ISO/IEC 13818-1 §2.4.3.3), null packets are left alone.
func TestPatchContinuity(t *testing.T) {
	var m muxer
	data := m.packet(synthVideo, false, noPCR, make([]byte, 184))
	adaptationOnly := m.packet(synthVideo, false, 27_000_000, nil)
	null := m.packet(pidNull, false, noPCR, make([]byte, 184))
	setContinuityCounter(null, 9)
	for _, tc := range []struct {
		name  string
		pkt   []byte
		cc    byte
		want  byte
		after byte
	}{
		{"payload counts on", data, 4, 5, 5},
		{"payload wraps at 16", data, 15, 0, 0},
		{"no payload repeats", adaptationOnly, 4, 4, 4},
		{"null packets kept", null, 4, 9, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkt := bytes.Clone(tc.pkt)
			pid := packetPID(pkt)
			var cc [pidCount]byte
			cc[pid] = tc.cc
			patch(pkt, packetInfo{pid: pid, payload: hasPayload(pkt)}, 0, &cc)
			if got := continuityCounter(pkt); got != tc.want {
				t.Errorf("counter %d, want %d", got, tc.want)
			}
			if cc[pid] != tc.after {
				t.Errorf("PID's counter now %d, want %d", cc[pid], tc.after)
			}
			if pkt[3]&0xF0 != tc.pkt[3]&0xF0 {
				t.Errorf("adaptation_field_control changed: %#x, was %#x", pkt[3], tc.pkt[3])
			}
		})
	}
}
