package clips

import (
	"context"
	"fmt"
	"io"
	"os"
)

// copyChunk is how much of a segment is copied between checks for
// cancellation and progress reports.
const copyChunk = 8 << 20

// writeTS writes the span's packets to dst as they are: the first segment's
// PAT and PMT, then the transport stream from the first keyframe on. The
// kernel copies file to file where it can.
func writeTS(ctx context.Context, sp span, dst *os.File, progress func(float64)) error {
	var done int64
	for _, fr := range sp.ranges {
		err := copyRange(ctx, dst, fr, func(n int64) {
			done += n
			progress(float64(done) / float64(sp.size))
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func copyRange(ctx context.Context, dst *os.File, fr fileRange, add func(int64)) error {
	src, err := os.Open(fr.path)
	if err != nil {
		return fmt.Errorf("open segment: %w", err)
	}
	defer src.Close()
	if _, err := src.Seek(fr.off, io.SeekStart); err != nil {
		return fmt.Errorf("seek segment %s: %w", fr.path, err)
	}
	for left := fr.len; left > 0; {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := dst.ReadFrom(io.LimitReader(src, min(left, copyChunk)))
		left -= n
		add(n)
		if err != nil {
			return fmt.Errorf("copy segment %s: %w", fr.path, err)
		}
		if n == 0 {
			return fmt.Errorf("segment %s ends %d bytes before its indexed size", fr.path, left)
		}
	}
	return nil
}
