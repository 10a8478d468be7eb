package srt

// Sequence numbers are 31 bits and wrap; comparisons are circular, as in
// libsrt's CSeqNo: a is after b when a-b, taken modulo 2^31, is below 2^30.

// seqMask keeps the 31 bits of a sequence number.
const seqMask = 1<<31 - 1

// seqDiff returns a-b in the circular sequence space, in [-2^30, 2^30).
func seqDiff(a, b uint32) int32 {
	d := (a - b) & seqMask
	if d >= 1<<30 {
		return int32(int64(d) - 1<<31)
	}
	return int32(d)
}

// seqAdd returns s+n, wrapped.
func seqAdd(s uint32, n int32) uint32 { return uint32(int64(s)+int64(n)) & seqMask }

// seqNext returns the sequence number after s.
func seqNext(s uint32) uint32 { return (s + 1) & seqMask }

// msgnoNext returns the message number after m: 26 bits, 0 is never used.
func msgnoNext(m uint32) uint32 {
	m = (m + 1) & msgnoMask
	if m == 0 {
		m = 1
	}
	return m
}
