package archive

import (
	"errors"
	"io"
)

// readChunk is how much an ObjectReader asks of its Object at once: on
// object storage each ask is one ranged GET, so a segment of a few MB is
// read in a few requests, and a short range costs no more than it asks.
const readChunk = 1 << 20

// ObjectReader reads the range [off, off+n) of an Object in order, a chunk
// at a time, and seeks within it: an io.ReadSeeker for http.ServeContent,
// an io.Reader for a clip's span.
type ObjectReader struct {
	obj      Object
	base, n  int64 // the range, in the object
	pos      int64 // of the next byte Read returns, from base
	buf      []byte
	bufStart int64 // pos of buf[0]
}

// NewObjectReader returns a reader of n bytes of obj from off.
func NewObjectReader(obj Object, off, n int64) *ObjectReader {
	return &ObjectReader{obj: obj, base: off, n: n}
}

// Read implements io.Reader.
func (r *ObjectReader) Read(p []byte) (int, error) {
	if r.pos >= r.n {
		return 0, io.EOF
	}
	if r.pos < r.bufStart || r.pos >= r.bufStart+int64(len(r.buf)) {
		if err := r.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.buf[r.pos-r.bufStart:])
	r.pos += int64(n)
	return n, nil
}

func (r *ObjectReader) fill() error {
	want := min(readChunk, r.n-r.pos)
	if int64(cap(r.buf)) < want {
		r.buf = make([]byte, want)
	}
	r.buf = r.buf[:want]
	got, err := r.obj.ReadAt(r.buf, r.base+r.pos)
	r.buf, r.bufStart = r.buf[:got], r.pos
	if got == 0 {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	return nil
}

var errBadSeek = errors.New("seek before the start of the range")

// Seek implements io.Seeker, within the range.
func (r *ObjectReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += r.pos
	case io.SeekEnd:
		offset += r.n
	}
	if offset < 0 {
		return 0, errBadSeek
	}
	r.pos = offset
	return offset, nil
}
