package srt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
)

// SRT's encryption (draft-sharabayko-srt, section 6; libsrt's haicrypt):
// a stream encrypting key (SEK) per direction and key index (even, odd)
// encrypts payloads with AES-CTR; the keys travel wrapped (RFC 3394) by a
// key encrypting key (KEK) derived from the passphrase by PBKDF2.

// Key material message fields.
const (
	kmVersionType = 0x12   // version 1, packet type 2 (key material)
	kmSign        = 0x2029 // "HAI", Haivision's PnP vendor id
	kmCipherCTR   = 2
	kmSETSSRT     = 2
	saltSize      = 16
	pbkdf2Iter    = 2048
	wrapOverhead  = 8
)

// Key material states of a KMRSP that refuses (libsrt's SRT_KM_STATE).
const (
	kmStateNoSecret  = 3
	kmStateBadSecret = 4
)

// ErrBadPassphrase is returned when the peer's key material does not
// unwrap with the passphrase given.
var ErrBadPassphrase = errors.New("srt: the passphrase does not match the peer's key material")

// Passphrases are 10 to 79 characters (SRTO_PASSPHRASE).
const (
	MinPassphrase = 10
	MaxPassphrase = 79
)

// keyMaterial is a decoded key material message.
type keyMaterial struct {
	keys    uint8 // keyEven, keyOdd or both
	cipher  uint8
	keyLen  int
	salt    []byte
	wrapped []byte
}

func parseKM(b []byte) (keyMaterial, error) {
	var km keyMaterial
	if len(b) < 16 {
		return km, fmt.Errorf("key material of %d bytes", len(b))
	}
	if b[0] != kmVersionType || binary.BigEndian.Uint16(b[1:]) != kmSign {
		return km, errors.New("not an SRT key material message")
	}
	km.keys = b[3] & 0b11
	km.cipher = b[8]
	if b[10] != kmSETSSRT {
		return km, fmt.Errorf("key material for stream encapsulation %d, not SRT", b[10])
	}
	saltLen := int(b[14]) * 4
	km.keyLen = int(b[15]) * 4
	if saltLen != saltSize {
		return km, fmt.Errorf("salt of %d bytes, %d expected", saltLen, saltSize)
	}
	if km.keyLen != 16 && km.keyLen != 24 && km.keyLen != 32 {
		return km, fmt.Errorf("key of %d bytes: not AES-128, -192 or -256", km.keyLen)
	}
	nkeys := 1
	switch km.keys {
	case keyEven, keyOdd:
	case keyEven | keyOdd:
		nkeys = 2
	default:
		return km, errors.New("key material with no key")
	}
	want := 16 + saltLen + nkeys*km.keyLen + wrapOverhead
	if len(b) < want {
		return km, fmt.Errorf("key material of %d bytes, %d expected", len(b), want)
	}
	km.salt = b[16 : 16+saltLen]
	km.wrapped = b[16+saltLen : want]
	return km, nil
}

// appendKM encodes key material whose keys are already wrapped.
func appendKM(b []byte, keys uint8, keyLen int, salt, wrapped []byte) []byte {
	b = append(b, kmVersionType, kmSign>>8, kmSign&0xFF, keys&0b11)
	b = append(b, 0, 0, 0, 0) // KEKI: 0, the default key encrypting key
	b = append(b, kmCipherCTR, 0, kmSETSSRT, 0, 0, 0, byte(len(salt)/4), byte(keyLen/4))
	b = append(b, salt...)
	return append(b, wrapped...)
}

// deriveKEK derives the key encrypting key from the passphrase and the low
// 64 bits of the salt, as haicrypt does.
func deriveKEK(passphrase string, salt []byte, keyLen int) ([]byte, error) {
	return pbkdf2.Key(sha1.New, passphrase, salt[len(salt)-8:], pbkdf2Iter, keyLen)
}

// wrapDefaultIV is RFC 3394's initial value.
var wrapDefaultIV = [8]byte{0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6}

// wrapKeys wraps plain (a multiple of 8 bytes) with kek (RFC 3394, 2.2.1).
func wrapKeys(kek cipher.Block, plain []byte) []byte {
	n := len(plain) / 8
	out := make([]byte, 8+len(plain))
	copy(out[8:], plain)
	a := wrapDefaultIV
	var buf [16]byte
	for j := 0; j < 6; j++ {
		for i := 1; i <= n; i++ {
			copy(buf[:8], a[:])
			copy(buf[8:], out[8*i:8*i+8])
			kek.Encrypt(buf[:], buf[:])
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(a[:], binary.BigEndian.Uint64(buf[:8])^t)
			copy(out[8*i:], buf[8:])
		}
	}
	copy(out[:8], a[:])
	return out
}

// unwrapKeys undoes wrapKeys; it fails when the integrity check does not
// hold, which is how a wrong passphrase shows.
func unwrapKeys(kek cipher.Block, wrapped []byte) ([]byte, error) {
	if len(wrapped) < 24 || len(wrapped)%8 != 0 {
		return nil, errors.New("wrapped keys of a bad length")
	}
	n := len(wrapped)/8 - 1
	out := make([]byte, len(wrapped)-8)
	copy(out, wrapped[8:])
	var a [8]byte
	copy(a[:], wrapped[:8])
	var buf [16]byte
	for j := 5; j >= 0; j-- {
		for i := n; i >= 1; i-- {
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(buf[:8], binary.BigEndian.Uint64(a[:])^t)
			copy(buf[8:], out[8*(i-1):8*i])
			kek.Decrypt(buf[:], buf[:])
			copy(a[:], buf[:8])
			copy(out[8*(i-1):], buf[8:])
		}
	}
	if subtle.ConstantTimeCompare(a[:], wrapDefaultIV[:]) != 1 {
		return nil, ErrBadPassphrase
	}
	return out, nil
}

// streamKeys are the keys one connection encrypts and decrypts with: in
// HSv5 the caller's keys serve both directions.
type streamKeys struct {
	keyLen int
	salt   [saltSize]byte
	kek    cipher.Block
	sek    [2][]byte // even, odd; nil where not set
	block  [2]cipher.Block
}

// newStreamKeys makes fresh keys (an even SEK and a salt) for passphrase.
func newStreamKeys(passphrase string, keyLen int) (*streamKeys, error) {
	k := &streamKeys{keyLen: keyLen}
	rand.Read(k.salt[:])
	kek, err := deriveKEK(passphrase, k.salt[:], keyLen)
	if err != nil {
		return nil, err
	}
	if k.kek, err = aes.NewCipher(kek); err != nil {
		return nil, err
	}
	if err := k.newKey(keyEven); err != nil {
		return nil, err
	}
	return k, nil
}

// keysFromKM takes the keys of a peer's key material, unwrapped with the passphrase.
func keysFromKM(passphrase string, km keyMaterial) (*streamKeys, error) {
	if km.cipher != kmCipherCTR {
		return nil, fmt.Errorf("srt: cipher %d is not supported (only AES-CTR)", km.cipher)
	}
	k := &streamKeys{keyLen: km.keyLen}
	copy(k.salt[:], km.salt)
	kek, err := deriveKEK(passphrase, k.salt[:], km.keyLen)
	if err != nil {
		return nil, err
	}
	if k.kek, err = aes.NewCipher(kek); err != nil {
		return nil, err
	}
	return k, k.update(km)
}

// update takes the keys of key material that this connection's KEK wraps
// (a key refresh, or the first key material).
func (k *streamKeys) update(km keyMaterial) error {
	if km.keyLen != k.keyLen || subtle.ConstantTimeCompare(km.salt, k.salt[:]) != 1 {
		return errors.New("srt: key material for another key length or salt")
	}
	plain, err := unwrapKeys(k.kek, km.wrapped)
	if err != nil {
		return err
	}
	idx := 0
	for _, which := range []uint8{keyEven, keyOdd} {
		if km.keys&which == 0 {
			continue
		}
		if len(plain) < (idx+1)*k.keyLen {
			return errors.New("srt: key material shorter than its keys")
		}
		if err := k.setKey(int(which>>1), plain[idx*k.keyLen:(idx+1)*k.keyLen]); err != nil {
			return err
		}
		idx++
	}
	return nil
}

// clone returns a copy whose keys can change on their own (HSv5 starts both
// directions with the caller's keys; each sender then refreshes its own).
func (k *streamKeys) clone() *streamKeys {
	c := *k
	return &c
}

// newKey sets a fresh random key at index which (keyEven or keyOdd).
func (k *streamKeys) newKey(which uint8) error {
	sek := make([]byte, k.keyLen)
	rand.Read(sek)
	return k.setKey(int(which>>1), sek)
}

func (k *streamKeys) setKey(i int, sek []byte) error {
	b, err := aes.NewCipher(sek)
	if err != nil {
		return err
	}
	k.sek[i], k.block[i] = append([]byte(nil), sek...), b
	return nil
}

// message encodes key material announcing the keys set in which (keyEven, keyOdd or both).
func (k *streamKeys) message(which uint8) []byte {
	var plain []byte
	for i, flag := range []uint8{keyEven, keyOdd} {
		if which&flag != 0 {
			plain = append(plain, k.sek[i]...)
		}
	}
	return appendKM(nil, which, k.keyLen, k.salt[:], wrapKeys(k.kek, plain))
}

// xor encrypts or decrypts payload in place with the key of index key
// (keyEven or keyOdd) for the packet of sequence number seq: AES-CTR with
// the salt's first 112 bits, the sequence number xored into bits 80-111,
// and a 16-bit block counter.
func (k *streamKeys) xor(key uint8, seq uint32, payload []byte) error {
	i := int(key>>1) & 1
	if key != keyEven && key != keyOdd || k.block[i] == nil {
		return errors.New("srt: packet encrypted with a key not announced")
	}
	var iv [16]byte
	copy(iv[:14], k.salt[:14])
	iv[10] ^= byte(seq >> 24)
	iv[11] ^= byte(seq >> 16)
	iv[12] ^= byte(seq >> 8)
	iv[13] ^= byte(seq)
	ctrXOR(k.block[i], &iv, payload)
	return nil
}

// ctrXOR xors payload with the AES-CTR key stream from iv, eight blocks at
// a time so that the cipher's pipelining is used, without allocating.
func ctrXOR(b cipher.Block, iv *[16]byte, payload []byte) {
	var ctr, stream [8 * 16]byte
	counter := binary.BigEndian.Uint16(iv[14:])
	for len(payload) > 0 {
		n := min((len(payload)+15)/16, 8)
		for j := 0; j < n; j++ {
			copy(ctr[j*16:], iv[:14])
			binary.BigEndian.PutUint16(ctr[j*16+14:], counter)
			counter++
		}
		for j := 0; j < n; j++ {
			b.Encrypt(stream[j*16:j*16+16], ctr[j*16:j*16+16])
		}
		m := subtle.XORBytes(payload, payload, stream[:min(len(payload), n*16)])
		payload = payload[m:]
	}
}
