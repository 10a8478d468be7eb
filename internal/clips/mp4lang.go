package clips

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// setLanguages writes the ISO 639-2 language of each track into the mdhd box
// of the MP4 file f, tracks in the order of the moov's trak boxes; an empty
// or malformed code stays "und". The MP4 writer knows no languages, and a
// broadcaster tells its commentary tracks apart by them.
func setLanguages(f *os.File, langs []string) error {
	moovOff, moov, err := findMoov(f)
	if err != nil {
		return err
	}
	track := 0
	for off := 8; off+8 <= len(moov); {
		size, typ := boxHeader(moov[off:])
		if size < 8 || off+size > len(moov) {
			return fmt.Errorf("malformed box in moov at %d", off)
		}
		if typ == "trak" {
			if track < len(langs) {
				if err := patchTrak(moov[off:off+size], langs[track]); err != nil {
					return err
				}
			}
			track++
		}
		off += size
	}
	_, err = f.WriteAt(moov, moovOff)
	return err
}

// findMoov reads the moov box of f and returns its offset and bytes.
func findMoov(f *os.File) (int64, []byte, error) {
	var hdr [16]byte
	for off := int64(0); ; {
		if _, err := f.ReadAt(hdr[:8], off); err != nil {
			if err == io.EOF {
				return 0, nil, fmt.Errorf("no moov box")
			}
			return 0, nil, err
		}
		size, typ := int64(binary.BigEndian.Uint32(hdr[:4])), string(hdr[4:8])
		if size == 1 {
			if _, err := f.ReadAt(hdr[8:16], off+8); err != nil {
				return 0, nil, err
			}
			size = int64(binary.BigEndian.Uint64(hdr[8:16]))
		}
		if size < 8 {
			return 0, nil, fmt.Errorf("malformed %q box at %d", typ, off)
		}
		if typ == "moov" {
			moov := make([]byte, size)
			if _, err := f.ReadAt(moov, off); err != nil {
				return 0, nil, err
			}
			return off, moov, nil
		}
		off += size
	}
}

func boxHeader(b []byte) (int, string) {
	return int(binary.BigEndian.Uint32(b[:4])), string(b[4:8])
}

// patchTrak sets the language in the trak's mdia/mdhd box.
func patchTrak(trak []byte, lang string) error {
	code, ok := packLanguage(lang)
	if !ok {
		return nil
	}
	mdia := child(trak, "mdia")
	if mdia == nil {
		return fmt.Errorf("trak without mdia")
	}
	mdhd := child(mdia, "mdhd")
	if mdhd == nil {
		return fmt.Errorf("mdia without mdhd")
	}
	// After the header and version/flags: times and timescale, then duration; 32-bit fields in version 0, 64-bit in 1.
	at := 8 + 4 + 4 + 4 + 4 + 4
	if mdhd[8] == 1 {
		at = 8 + 4 + 8 + 8 + 4 + 8
	}
	if at+2 > len(mdhd) {
		return fmt.Errorf("short mdhd")
	}
	binary.BigEndian.PutUint16(mdhd[at:], code)
	return nil
}

// child returns the first child box of box (header included) of the given type.
func child(box []byte, typ string) []byte {
	for off := 8; off+8 <= len(box); {
		size, t := boxHeader(box[off:])
		if size < 8 || off+size > len(box) {
			return nil
		}
		if t == typ {
			return box[off : off+size]
		}
		off += size
	}
	return nil
}

// packLanguage packs a three-letter ISO 639-2/T code as MP4 stores it: three 5-bit letters.
func packLanguage(lang string) (uint16, bool) {
	if len(lang) != 3 {
		return 0, false
	}
	var code uint16
	for i := range 3 {
		c := lang[i] | 0x20
		if c < 'a' || c > 'z' {
			return 0, false
		}
		code = code<<5 | uint16(c-0x60)
	}
	return code, true
}
