package cdp

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// NewID returns a random, time-ordered UUIDv7 (RFC 9562) in its canonical
// text form. Ids sort by creation time to the millisecond, which keeps the
// newest-first listings of events an index range scan in every store.
func NewID() string { return newIDAt(time.Now()) }

func newIDAt(t time.Time) string {
	var u [16]byte
	_, _ = rand.Read(u[6:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	ms := uint64(t.UnixMilli())
	u[0], u[1], u[2] = byte(ms>>40), byte(ms>>32), byte(ms>>24)
	u[3], u[4], u[5] = byte(ms>>16), byte(ms>>8), byte(ms)
	u[6] = u[6]&0x0f | 0x70 // version 7
	u[8] = u[8]&0x3f | 0x80 // variant 10
	return formatUUID(u)
}

// MinIDAt returns the smallest id NewID could return at time t, so that
// "id >= MinIDAt(t)" selects what was created at or after t.
func MinIDAt(t time.Time) string {
	var u [16]byte
	ms := uint64(t.UnixMilli())
	u[0], u[1], u[2] = byte(ms>>40), byte(ms>>32), byte(ms>>24)
	u[3], u[4], u[5] = byte(ms>>16), byte(ms>>8), byte(ms)
	return formatUUID(u)
}

func formatUUID(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}
