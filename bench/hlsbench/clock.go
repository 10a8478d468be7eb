package main

import (
	"fmt"
	"strings"
	"time"
)

// The burned-in clock. The live source stamps every frame with the wall
// clock at which ffmpeg filtered it (right after -re released it: its
// capture), in milliseconds modulo 2^24 (4.6 hours), as a strip of black and
// white blocks in the top-left corner of the picture: bits 0 to 23 of the
// stamp, least significant first, then a check byte, so that a frame caught
// mid-update or a damaged strip is rejected rather than misread. The blocks
// are 32x32 pixels, aligned on H.264's 16x16 macroblocks, so that the
// encoder keeps them crisp at any sensible bitrate. A human-readable clock
// (UTC, milliseconds) sits below the strip.
//
// The strip is decoded by this program (the SRT baseline, from ffmpeg's
// decoded luma) and by the player page (page/clock.js, from the canvas).
const (
	stampBits    = 24
	checkBits    = 8
	stampModulo  = 1 << stampBits
	clockBlock   = 32 // pixels, both ways
	stripBlocks  = stampBits + checkBits
	stripWidth   = stripBlocks * clockBlock
	stripHeight  = clockBlock
	clockFont    = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"
	blackLuma    = 16  // video range
	whiteLuma    = 235 // video range
	lumaDecision = (blackLuma + whiteLuma) / 2
)

// checkByte is the check of a stamp: its three bytes summed, inverted, so
// that an all-black strip is not a valid stamp of 0.
func checkByte(stamp uint32) uint32 {
	return 255 - (stamp&0xFF+stamp>>8&0xFF+stamp>>16&0xFF)&0xFF
}

// stampOf returns the stamp of a wall-clock time.
func stampOf(t time.Time) uint32 { return uint32(t.UnixMilli() % stampModulo) }

// stampAge returns how long before now a stamp was made, given that it was
// made less than 2^24 ms (4.6 hours) ago.
func stampAge(now time.Time, stamp uint32) time.Duration {
	ms := (int64(stampOf(now)) - int64(stamp) + stampModulo) % stampModulo
	return time.Duration(ms) * time.Millisecond
}

// clockFilterGraph is the ffmpeg filter graph (for -filter_complex) that
// burns the clock into video input [0:v] and labels the result [out], at
// frame rate fps. The frames' timestamps are set to the wall clock in
// microseconds (RTCTIME, read once per frame) for the strip and the text to
// draw, then reset to a constant frame rate for the encoder.
func clockFilterGraph(fps int) string {
	// geq draws one pixel per block (v is the stamp, i the block, the
	// check byte computed as checkByte does), on a 32x2 picture (4:2:0
	// needs two rows) that scale then blows up to the strip, blocks intact:
	// evaluated per pixel of the whole strip, geq would cost most of a core.
	bit := strings.Join([]string{
		"st(0,mod(floor(T*1000),16777216))",
		"st(1,X)",
		"st(2,255-mod(mod(ld(0),256)+mod(floor(ld(0)/256),256)+floor(ld(0)/65536),256))",
		"mod(floor(if(lt(ld(1),24),ld(0)/pow(2,ld(1)),ld(2)/pow(2,ld(1)-24))),2)",
	}, ";")
	lum := fmt.Sprintf("%d+%d*(%s)", blackLuma, whiteLuma-blackLuma, bit)
	text := `%{pts\:gmtime\:0\:%H\\\:%M\\\:%S}.%{eif\:mod(t*1000\,1000)\:d\:3} UTC`
	return fmt.Sprintf("[0:v]settb=AVTB,setpts=RTCTIME,split[main][s];"+
		"[s]crop=%d:2:0:0,geq=lum='%s':cb=128:cr=128,scale=%d:%d:flags=neighbor[strip];"+
		"[main][strip]overlay=0:0,"+
		"drawtext=fontfile=%s:fontsize=40:fontcolor=white:box=1:boxcolor=black@0.8:boxborderw=6:x=8:y=%d:text='%s',"+
		"settb=1/%d,setpts=N[out]",
		stripBlocks, escapeFilterArg(lum), stripWidth, stripHeight, clockFont, stripHeight+16, text, fps)
}

// escapeFilterArg escapes the commas of an expression given inside a
// quoted filter option (the filter graph parser splits filters on them).
func escapeFilterArg(s string) string { return strings.ReplaceAll(s, ",", `\,`) }

// stripCrop is the ffmpeg filter that cuts the strip out of a decoded
// picture as 8-bit luma, what decodeStrip reads.
var stripCrop = fmt.Sprintf("crop=%d:%d:0:0,format=gray", stripWidth, stripHeight)

// decodeStrip reads the stamp from the strip's luma (stripWidth x
// stripHeight, one byte a pixel, rows stride bytes apart). It looks at the
// middle half of each block, away from the edges that the encoder blurs.
// ok is false when the check byte does not match.
func decodeStrip(luma []byte, stride int) (stamp uint32, ok bool) {
	if len(luma) < stride*(stripHeight-1)+stripWidth {
		return 0, false
	}
	var word uint64
	for block := range stripBlocks {
		sum, n := 0, 0
		for y := clockBlock / 4; y < clockBlock*3/4; y++ {
			row := luma[y*stride+block*clockBlock:]
			for x := clockBlock / 4; x < clockBlock*3/4; x++ {
				sum += int(row[x])
				n++
			}
		}
		if sum/n > lumaDecision {
			word |= 1 << block
		}
	}
	stamp = uint32(word & (stampModulo - 1))
	return stamp, uint32(word>>stampBits) == checkByte(stamp)
}
