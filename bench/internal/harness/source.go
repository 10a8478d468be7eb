package harness

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
	// PacketSize is a transport packet's.
	PacketSize = 188
	// ChunkSize is one SRT live payload: seven transport packets.
	ChunkSize = 7 * PacketSize
	// mediaPerChunk is how many of a chunk's packets carry the ffmpeg stream;
	// the seventh is the stamp.
	mediaPerChunk = 6
	// SourceSeconds is the length of the generated stream, looped by the publisher.
	SourceSeconds = 10
)

// stampMagic opens the payload of every stamp packet.
var stampMagic = [12]byte{'P', 'O', 'D', 'I', 'U', 'M', '-', 'B', 'E', 'N', 'C', 'H'}

// Source is the feed's transport stream: a real H.264 + AAC stream from
// ffmpeg, with a stamp after every six of its packets. A stamp is a null
// packet (PID 0x1FFF, which every receiver discards, as in any constant-rate
// multiplex) whose payload carries the publisher's session and the chunk's
// sequence number, so that a receiver can tell exactly which chunks it missed.
type Source struct {
	media []byte // whole transport packets, looped
}

// LoadSource returns the source for the given total bitrate, generating it
// with ffmpeg into cacheDir the first time.
func LoadSource(ctx context.Context, cacheDir string, bitrate int) (*Source, error) {
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
	data = data[:len(data)/PacketSize*PacketSize]
	if len(data) < 100*PacketSize || data[0] != 0x47 {
		return nil, fmt.Errorf("%s is not a transport stream: delete it to have it made again", path)
	}
	return &Source{media: data}, nil
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
		"-t", strconv.Itoa(SourceSeconds), "-map", "0:v", "-map", "1:a",
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

// Stamp identifies a chunk: the publisher session that sent it, and its
// number in that session.
type Stamp struct {
	Session uint32
	Seq     uint64
}

// AppendChunk appends chunk st.Seq of the endless looped stream to dst.
func (s *Source) AppendChunk(dst []byte, st Stamp) []byte {
	packets := uint64(len(s.media) / PacketSize)
	first := st.Seq * mediaPerChunk
	for i := range uint64(mediaPerChunk) {
		off := (first + i) % packets * PacketSize
		dst = append(dst, s.media[off:off+PacketSize]...)
	}
	return appendStamp(dst, st)
}

func appendStamp(dst []byte, st Stamp) []byte {
	start := len(dst)
	dst = append(dst, 0x47, 0x1F, 0xFF, 0x10) // null PID, payload only
	dst = append(dst, stampMagic[:]...)
	dst = binary.BigEndian.AppendUint32(dst, st.Session)
	dst = binary.BigEndian.AppendUint64(dst, st.Seq)
	for len(dst)-start < PacketSize {
		dst = append(dst, 0xFF)
	}
	return dst
}

// ReadStamp returns the stamp of a stamp packet.
func ReadStamp(pkt []byte) (Stamp, bool) {
	if pkt[1]&0x1F != 0x1F || pkt[2] != 0xFF || [12]byte(pkt[4:16]) != stampMagic {
		return Stamp{}, false
	}
	return Stamp{Session: binary.BigEndian.Uint32(pkt[16:20]), Seq: binary.BigEndian.Uint64(pkt[20:28])}, true
}
