package hls

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func box(typ string, payload ...[]byte) []byte {
	body := bytes.Join(payload, nil)
	b := binary.BigEndian.AppendUint32(nil, uint32(boxHeaderSize+len(body)))
	return append(append(b, typ...), body...)
}

func TestFragmentFilterLeavesOutFragmentsWithoutTracks(t *testing.T) {
	mfhd := func(seq uint32) []byte { return box("mfhd", binary.BigEndian.AppendUint32(make([]byte, 4), seq)) }
	full := func(seq uint32, data string) []byte {
		return append(box("moof", mfhd(seq), box("traf", box("tfhd", make([]byte, 8)), box("trun", make([]byte, 12)))), box("mdat", []byte(data))...)
	}
	empty := func(seq uint32) []byte { return append(box("moof", mfhd(seq)), box("mdat")...) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name     string
		in, want []byte
	}{
		{"nothing to leave out", cat(full(1, "abc"), full(2, "defg")), cat(full(1, "abc"), full(2, "defg"))},
		{"an empty fragment at the end", cat(full(1, "abc"), empty(2)), full(1, "abc")},
		{"an empty fragment between two", cat(full(1, "abc"), empty(2), full(3, "xyz")), cat(full(1, "abc"), full(3, "xyz"))},
		{"a segment of empty fragments", cat(empty(1), empty(2)), nil},
		{"an mdat with data after a moof without traf stays", cat(box("moof", mfhd(1)), box("mdat", []byte("q"))), box("mdat", []byte("q"))},
		{"an empty mdat after a full fragment stays", cat(full(1, "abc"), box("mdat")), cat(full(1, "abc"), box("mdat"))},
		{"a box cut short passes", cat(full(1, "abc"), box("moof", mfhd(2))[:12]), cat(full(1, "abc"), box("moof", mfhd(2))[:12])},
		{"a 64-bit size passes with the rest", cat([]byte{0, 0, 0, 1}, []byte("mdat"), make([]byte, 8), empty(2)), cat([]byte{0, 0, 0, 1}, []byte("mdat"), make([]byte, 8), empty(2))},
	}
	for _, tt := range tests {
		for _, chunk := range []int{1, 3, 7, 8, 13, len(tt.in)} {
			var out bytes.Buffer
			f := &fragmentFilter{w: &out}
			for in := tt.in; len(in) > 0; {
				k := min(chunk, len(in))
				if n, err := f.Write(in[:k]); n != k || err != nil {
					t.Fatalf("%s: Write = %d, %v", tt.name, n, err)
				}
				in = in[k:]
			}
			if err := f.flush(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), tt.want) {
				t.Errorf("%s, in writes of %d bytes:\n got %x\nwant %x", tt.name, chunk, out.Bytes(), tt.want)
			}
		}
	}
}
