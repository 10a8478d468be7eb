package harness

import (
	"os"
	"os/exec"
	"sync/atomic"
	"time"
)

// Receiver is an srt-live-transmit caller pulling a feed to its stdout, a
// pipe that the bench reads for the stamps that come through.
type Receiver struct {
	Proc    *Child
	Bytes   atomic.Uint64 // bytes read from the pipe
	Drained chan struct{} // closed when the pipe has been read to its end
}

// drainPause is how long the bench lets a receiver's pipe fill between two
// reads: fewer, larger reads keep the bench's own CPU use low. The pipe's
// buffer (1 MiB) holds 400 ms of a 20 Mbit/s feed; a 64 KiB pipe, 25 ms.
func drainPause(pipeSize int) time.Duration {
	if pipeSize >= 1<<20 {
		return 20 * time.Millisecond
	}
	return 5 * time.Millisecond
}

// StartReceiver starts a receiver pulling url and calls onStamp, from one
// goroutine, with each stamp that comes out of it, in order, duplicates left
// out, and the instant the read that brought it returned (the stamps of one
// read share it).
func StartReceiver(procs *Supervisor, name, url string, onStamp func(st Stamp, readAt time.Time)) (*Receiver, error) {
	out, in, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	pause := drainPause(SetPipeSize(out, 1<<20))
	cmd := exec.Command("srt-live-transmit", "-q", "-a:no", url, "file://con")
	cmd.Stdout = in
	proc, err := procs.Start(name, cmd)
	in.Close()
	if err != nil {
		out.Close()
		return nil, err
	}
	r := &Receiver{Proc: proc, Drained: make(chan struct{})}
	go func() {
		defer close(r.Drained)
		defer out.Close()
		r.drain(out, pause, onStamp)
	}()
	return r, nil
}

// drain reads the receiver's output until the process closes it.
func (r *Receiver) drain(out *os.File, pause time.Duration, onStamp func(Stamp, time.Time)) {
	buf := make([]byte, 256<<10)
	held := 0
	var last Stamp
	seen := false
	for {
		n, err := out.Read(buf[held:])
		readAt := time.Now()
		held += n
		r.Bytes.Add(uint64(n))
		off := 0
		for held-off >= PacketSize {
			if buf[off] != 0x47 { // out of sync: skip to the next sync byte
				off++
				continue
			}
			// SRT live mode delivers in order; a chunk not after the last one
			// of the same publisher would be a duplicate.
			if st, ok := ReadStamp(buf[off : off+PacketSize]); ok && (!seen || st.Session != last.Session || st.Seq > last.Seq) {
				seen, last = true, st
				onStamp(st, readAt)
			}
			off += PacketSize
		}
		held = copy(buf, buf[off:held])
		if err != nil {
			return
		}
		// Pause only when the pipe had little: a read that fills half the
		// buffer means a fast stream (the 256 KiB per 20 ms pause would cap
		// it at about 100 Mbit/s).
		if n < len(buf)/2 {
			time.Sleep(pause)
		}
	}
}

// StopReceivers stops the receivers' processes and waits for their pipes to be read out.
func StopReceivers(receivers []*Receiver) {
	children := make([]*Child, len(receivers))
	for i, r := range receivers {
		children[i] = r.Proc
	}
	StopChildren(children)
	for _, r := range receivers {
		<-r.Drained
	}
}
