package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
)

const (
	packetSize = 188
	// chunkSize is one SRT live payload: seven transport packets.
	chunkSize = 7 * packetSize
	// mediaPerChunk is how many of a chunk's packets carry the ffmpeg stream;
	// the seventh is the stamp.
	mediaPerChunk = 6
	// sourceSeconds is the length of the generated stream, looped by the publisher.
	sourceSeconds = 10
)

// stampMagic opens the payload of every stamp packet.
var stampMagic = [12]byte{'P', 'O', 'D', 'I', 'U', 'M', '-', 'B', 'E', 'N', 'C', 'H'}

// source is the feed's transport stream: a real H.264 + AAC stream from
// ffmpeg, with a stamp after every six of its packets. A stamp is a null
// packet (PID 0x1FFF, which every receiver discards, as in any constant-rate
// multiplex) whose payload carries the publisher's session and the chunk's
// sequence number, so that a receiver can tell exactly which chunks it missed.
type source struct {
	media []byte // whole transport packets, looped
}

// loadSource returns the source for the given total bitrate, generating it
// with ffmpeg into cacheDir the first time.
func loadSource(ctx context.Context, cacheDir string, bitrate int) (*source, error) {
	mediaRate := bitrate * mediaPerChunk / 7
	path := filepath.Join(cacheDir, fmt.Sprintf("source-%d.ts", mediaRate))
	if _, err := os.Stat(path); err != nil {
		if err := os.MkdirAll(cacheDir, 0o755); err != nil {
			return nil, err
		}
		if err := encodeSource(ctx, path, mediaRate); err != nil {
			return nil, err
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	data = data[:len(data)/packetSize*packetSize]
	if len(data) < 100*packetSize || data[0] != 0x47 {
		return nil, fmt.Errorf("%s is not a transport stream: delete it to have it made again", path)
	}
	return &source{media: data}, nil
}

// encodeSource makes a near-constant-rate 720p50 stream at muxRate: H.264
// (x264 ultrafast, constant bitrate with filler, keyframe every second) and
// AAC, padded by the muxer to exactly muxRate.
func encodeSource(ctx context.Context, path string, muxRate int) error {
	video := muxRate / 100 * 93 // room for audio, tables and PES headers
	tmp := path + ".tmp"
	cmd := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=50",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", strconv.Itoa(sourceSeconds), "-map", "0:v", "-map", "1:a",
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "50",
		"-b:v", strconv.Itoa(video), "-minrate", strconv.Itoa(video), "-maxrate", strconv.Itoa(video),
		"-bufsize", strconv.Itoa(video/2), "-x264-params", "nal-hrd=cbr",
		"-c:a", "aac", "-b:a", "128k",
		"-muxrate", strconv.Itoa(muxRate), "-f", "mpegts", tmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("ffmpeg: %v: %s", err, out)
	}
	return os.Rename(tmp, path)
}

// stamp identifies a chunk: the publisher session that sent it, and its
// number in that session.
type stamp struct {
	session uint32
	seq     uint64
}

// appendChunk appends chunk st.seq of the endless looped stream to dst.
func (s *source) appendChunk(dst []byte, st stamp) []byte {
	packets := uint64(len(s.media) / packetSize)
	first := st.seq * mediaPerChunk
	for i := range uint64(mediaPerChunk) {
		off := (first + i) % packets * packetSize
		dst = append(dst, s.media[off:off+packetSize]...)
	}
	return appendStamp(dst, st)
}

func appendStamp(dst []byte, st stamp) []byte {
	start := len(dst)
	dst = append(dst, 0x47, 0x1F, 0xFF, 0x10) // null PID, payload only
	dst = append(dst, stampMagic[:]...)
	dst = binary.BigEndian.AppendUint32(dst, st.session)
	dst = binary.BigEndian.AppendUint64(dst, st.seq)
	for len(dst)-start < packetSize {
		dst = append(dst, 0xFF)
	}
	return dst
}

// readStamp returns the stamp of a stamp packet.
func readStamp(pkt []byte) (stamp, bool) {
	if pkt[1]&0x1F != 0x1F || pkt[2] != 0xFF || [12]byte(pkt[4:16]) != stampMagic {
		return stamp{}, false
	}
	return stamp{session: binary.BigEndian.Uint32(pkt[16:20]), seq: binary.BigEndian.Uint64(pkt[20:28])}, true
}
