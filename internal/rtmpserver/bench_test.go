package rtmpserver

import (
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib"
)

// BenchmarkPublish6Mbps measures what an RTMP publisher costs Podium's RTMP
// side: a recorded session of 10 s of 1280x720 50 fps H.264 at 6 Mbit/s CBR
// (libx264, with filler data as OBS's CBR sends it) and AAC is replayed over
// loopback TCP through a server session (handshake, chunk stream, FLV tags,
// remux to MPEG-TS) into a feed source that drops it. It reports the CPU
// time of the process per second of media: the share of a core one such
// publisher takes in real time. The feed's source switching and hub come
// on top (see bench/srtfanout).
func BenchmarkPublish6Mbps(b *testing.B) {
	const seconds = 10
	s := makeSample(b, false, seconds, "testsrc2=size=1280x720:rate=50", "-c:v", "libx264", "-preset", "ultrafast",
		"-b:v", "6M", "-maxrate", "6M", "-bufsize", "3M", "-x264-params", "nal-hrd=cbr:aud=1", "-g", "50", "-bf", "0")
	session := recordSession(b, testFeed.ID+"?key="+testFeed.PublishPassphrase, true, func(c *gortmplib.Client) error { return s.publish(c) })
	srv := newBareServer(10*time.Second, io.Discard)
	b.SetBytes(int64(len(session)))
	cpu := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	for b.Loop() {
		if !serveBytes(b, srv, session, time.Minute) {
			b.Fatal("the session did not end")
		}
	}
	used := cpu() - start
	b.ReportMetric(float64(used.Milliseconds())/float64(b.N*seconds), "cpu-ms/media-s")
}
