package clips

import (
	"context"
	"io"
	"os"
)

// copyChunk is the buffer a clip's transport stream is copied through.
const copyChunk = 1 << 20

// writeTS writes the span's packets to dst as they are: the first segment's
// PAT and PMT, then the transport stream from the first keyframe on.
func writeTS(ctx context.Context, sp span, dst *os.File, progress func(float64)) error {
	in := newSpanReader(ctx, sp, func(done int64) { progress(float64(done) / float64(sp.size)) })
	defer in.Close()
	_, err := io.CopyBuffer(writerOnly{dst}, in, make([]byte, copyChunk))
	return err
}

// writerOnly hides the file's ReadFrom, so that io.CopyBuffer uses its buffer.
type writerOnly struct{ io.Writer }
