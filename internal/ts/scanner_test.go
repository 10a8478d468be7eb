package ts

import (
	"bytes"
	"errors"
	"testing"
)

func TestScanFindsRandomAccessPoints(t *testing.T) {
	const pmtPID, videoPID, audioPID = 0x1000, 0x100, 0x101
	pat := psiPacket(0, 3, patSection(pmtPID))
	tests := []struct {
		name       string
		streamType byte
		packets    [][]byte
		want       []int // rap index per chunk
	}{
		{"h264 idr with random access indicator", StreamTypeH264, [][]byte{
			packet(videoPID, true, 0, raiField, pes(h264IDR...)),
		}, []int{0}},
		{"h264 idr without indicator", StreamTypeH264, [][]byte{
			packet(videoPID, true, 0, nil, pes(h264IDR...)),
		}, []int{0}},
		{"h264 non-idr", StreamTypeH264, [][]byte{
			packet(videoPID, true, 0, nil, pes(h264NonIDR...)),
		}, []int{-1}},
		{"h264 continuation packet is never an access point", StreamTypeH264, [][]byte{
			packet(videoPID, false, 0, nil, h264IDR),
		}, []int{-1}},
		{"hevc idr", StreamTypeH265, [][]byte{packet(videoPID, true, 0, nil, pes(hevcIDR...))}, []int{0}},
		{"hevc trailing picture", StreamTypeH265, [][]byte{packet(videoPID, true, 0, nil, pes(hevcTrail...))}, []int{-1}},
		{"mpeg-2 sequence header", StreamTypeMPEG2Video, [][]byte{packet(videoPID, true, 0, nil, pes(mpeg2Seq...))}, []int{0}},
		{"mpeg-2 picture", StreamTypeMPEG2Video, [][]byte{packet(videoPID, true, 0, nil, pes(mpeg2Pic...))}, []int{-1}},
		{"audio is not an access point when there is video", StreamTypeH264, [][]byte{
			packet(audioPID, true, 0, raiField, []byte{0, 0, 1, 0xC0}),
		}, []int{-1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s Scanner
			pmt := psiPacket(pmtPID, 7, pmtSection(videoPID, esEntry{tc.streamType, videoPID}, esEntry{0x0F, audioPID}))
			rap, err := s.Scan(concat(pat, pmt))
			if err != nil || rap != -1 {
				t.Fatalf("PSI chunk: rap %d, err %v", rap, err)
			}
			for i, p := range tc.packets {
				chunk := concat(packet(audioPID, false, 1, nil, []byte{1}), p)
				rap, err := s.Scan(chunk)
				if err != nil {
					t.Fatal(err)
				}
				want := tc.want[i]
				if want >= 0 {
					want++ // after the audio packet
				}
				if rap != want {
					t.Errorf("chunk %d: rap = %d, want %d", i, rap, want)
				}
			}
			if tc.want[0] >= 0 && !bytes.Equal(s.RAPPSI(), concat(pat, pmt)) {
				t.Error("RAPPSI is not the PAT and PMT seen before the access point")
			}
		})
	}
}

func TestAudioOnlyStreamStartsAtAnyAudioPES(t *testing.T) {
	var s Scanner
	chunk := concat(psiPacket(0, 0, patSection(0x1000)),
		psiPacket(0x1000, 0, pmtSection(0x101, esEntry{0x0F, 0x101})),
		packet(0x101, true, 0, nil, []byte{0, 0, 1, 0xC0}))
	if rap, err := s.Scan(chunk); err != nil || rap != 2 {
		t.Fatalf("rap %d err %v, want 2", rap, err)
	}
}

func TestNoAccessPointBeforePSI(t *testing.T) {
	var s Scanner
	if rap, _ := s.Scan(packet(0x100, true, 0, raiField, pes(h264IDR...))); rap != -1 {
		t.Fatalf("rap %d before any PAT/PMT", rap)
	}
}

func TestRAPPSIKeepsThePSIOfTheAccessPoint(t *testing.T) {
	var s Scanner
	pat0 := psiPacket(0, 0, patSection(0x1000))
	pmt0 := psiPacket(0x1000, 0, pmtSection(0x100, esEntry{StreamTypeH264, 0x100}))
	idr := packet(0x100, true, 0, raiField, pes(h264IDR...))
	pat1 := psiPacket(0, 1, patSection(0x1000))
	if _, err := s.Scan(concat(pat0, pmt0, idr, pat1)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s.RAPPSI(), concat(pat0, pmt0)) {
		t.Fatal("a PAT after the access point replaced the one before it")
	}
}

func TestMultiPacketPMT(t *testing.T) {
	var streams []esEntry
	for i := range 40 { // 40 × 5 bytes: the section spans two packets
		streams = append(streams, esEntry{0x06, 0x200 + i})
	}
	streams[3] = esEntry{StreamTypeH264, 0x100}
	section := pmtSection(0x100, streams...)
	first := append([]byte{0}, section[:183]...)
	rest := section[183:]
	for len(rest) < 184 {
		rest = append(rest, 0xFF)
	}
	var s Scanner
	chunk := concat(psiPacket(0, 0, patSection(0x1000)),
		packet(0x1000, true, 0, nil, first), packet(0x1000, false, 1, nil, rest),
		packet(0x100, true, 0, nil, pes(h264IDR...)))
	rap, err := s.Scan(chunk)
	if err != nil || rap != 3 {
		t.Fatalf("rap %d err %v, want 3", rap, err)
	}
	if pid, st, ok := s.VideoPID(); !ok || pid != 0x100 || st != StreamTypeH264 {
		t.Fatalf("video pid %#x type %#x ok %v", pid, st, ok)
	}
	if len(s.RAPPSI()) != 3*PacketSize {
		t.Fatalf("RAPPSI holds %d bytes, want PAT + two PMT packets", len(s.RAPPSI()))
	}
}

func TestProgramReportsWhatTheScannerHasRead(t *testing.T) {
	var s Scanner
	if p := s.Program(); p.PAT || p.PMT || p.PMTPID != -1 || p.PCRPID != -1 {
		t.Fatalf("fresh scanner: %+v", p)
	}
	steps := []struct {
		pkt  []byte
		want Program
	}{
		{psiPacket(0, 0, patSection(0x1000)), Program{PAT: true, PMTPID: 0x1000, PCRPID: -1}},
		{psiPacket(0x1000, 0, pmtSection(0x101, esEntry{StreamTypeH264, 0x100})), Program{PAT: true, PMTPID: 0x1000, PMT: true, PCRPID: 0x101}},
		{psiPacket(0, 1, patSection(0x1001)), Program{PAT: true, PMTPID: 0x1001, PCRPID: -1}}, // a new program: its PMT is still to come
	}
	for i, step := range steps {
		if _, err := s.Scan(step.pkt); err != nil {
			t.Fatal(err)
		}
		if got := s.Program(); got != step.want {
			t.Fatalf("after packet %d: %+v, want %+v", i, got, step.want)
		}
	}
}

func TestScanRejectsBadFraming(t *testing.T) {
	good := packet(0x100, false, 0, nil, []byte{1})
	bad := append([]byte{}, good...)
	bad[0] = 0x48
	for name, chunk := range map[string][]byte{
		"empty":           {},
		"short":           good[:100],
		"not a multiple":  append(append([]byte{}, good...), 0x47),
		"lost sync":       concat(good, bad),
		"text, not video": []byte("GET / HTTP/1.1\r\n"),
	} {
		t.Run(name, func(t *testing.T) {
			var s Scanner
			if _, err := s.Scan(chunk); !errors.Is(err, ErrNotTS) {
				t.Fatalf("err = %v, want ErrNotTS", err)
			}
		})
	}
}

func TestScanDoesNotAllocate(t *testing.T) {
	var s Scanner
	chunk := concat(psiPacket(0, 0, patSection(0x1000)),
		psiPacket(0x1000, 0, pmtSection(0x100, esEntry{StreamTypeH264, 0x100})),
		packet(0x100, true, 0, raiField, pes(h264IDR...)),
		packet(0x100, false, 1, nil, []byte{1, 2, 3}))
	s.Scan(chunk)
	if n := testing.AllocsPerRun(100, func() { s.Scan(chunk) }); n != 0 {
		t.Fatalf("Scan allocates %.0f times per chunk", n)
	}
}

func FuzzScan(f *testing.F) {
	f.Add(concat(psiPacket(0, 0, patSection(0x1000)),
		psiPacket(0x1000, 0, pmtSection(0x100, esEntry{StreamTypeH264, 0x100})),
		packet(0x100, true, 0, raiField, pes(h264IDR...))))
	f.Add(packet(0x1000, true, 0, nil, []byte{0, 2, 0xBF, 0xFF}))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Scanner
		// Force framing so the fuzzer explores packet contents, not just
		// sync bytes; on a copy, as the fuzzer's input must not be modified.
		data = append([]byte(nil), data...)
		for off := 0; off+PacketSize <= len(data); off += PacketSize {
			data[off] = syncByte
		}
		for len(data) >= PacketSize {
			n := min(len(data)/PacketSize, 7) * PacketSize
			rap, err := s.Scan(data[:n])
			if err != nil {
				t.Fatal(err)
			}
			if rap >= n/PacketSize {
				t.Fatalf("rap index %d beyond chunk of %d packets", rap, n/PacketSize)
			}
			data = data[n:]
		}
		_ = s.RAPPSI()
	})
}
