package cdp

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"
)

// idClock makes ids from one process strictly increasing: within a
// millisecond the 12-bit rand_a field is a counter (RFC 9562 §6.2,
// method 1), so events of one request list in the order they were made.
var idClock struct {
	sync.Mutex
	ms  uint64
	seq uint16
}

// NewID returns a random, time-ordered UUIDv7 (RFC 9562) in its canonical
// text form. Ids sort by creation time, which keeps the newest-first
// listings of events an index range scan in every store.
func NewID() string {
	ms := uint64(time.Now().UnixMilli())
	idClock.Lock()
	if ms <= idClock.ms {
		idClock.seq++
		if idClock.seq > 0x0fff { // counter exhausted: borrow the next millisecond
			idClock.ms++
			idClock.seq = 0
		}
		ms = idClock.ms
	} else {
		idClock.ms, idClock.seq = ms, 0
	}
	seq := idClock.seq
	idClock.Unlock()
	var u [16]byte
	_, _ = rand.Read(u[8:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	u[0], u[1], u[2] = byte(ms>>40), byte(ms>>32), byte(ms>>24)
	u[3], u[4], u[5] = byte(ms>>16), byte(ms>>8), byte(ms)
	u[6] = 0x70 | byte(seq>>8) // version 7, counter high bits
	u[7] = byte(seq)
	u[8] = u[8]&0x3f | 0x80 // variant 10
	return FormatUUID(u)
}

// MinIDAt returns the smallest id NewID could return at time t, so that
// "id >= MinIDAt(t)" selects what was created at or after t.
func MinIDAt(t time.Time) string {
	var u [16]byte
	ms := uint64(t.UnixMilli())
	u[0], u[1], u[2] = byte(ms>>40), byte(ms>>32), byte(ms>>24)
	u[3], u[4], u[5] = byte(ms>>16), byte(ms>>8), byte(ms)
	return FormatUUID(u)
}

// FormatUUID returns u in the canonical text form NewID uses (lowercase,
// hyphenated), which a store that keeps ids as 16 bytes reads back.
func FormatUUID(u [16]byte) string {
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

// IDTime returns when an id made by NewID was made (to the millisecond);
// false for an id of another form.
func IDTime(id string) (time.Time, bool) {
	if len(id) != 36 || id[8] != '-' || id[14] != '7' {
		return time.Time{}, false
	}
	b, err := hex.DecodeString(id[0:8] + id[9:13])
	if err != nil {
		return time.Time{}, false
	}
	var ms int64
	for _, x := range b {
		ms = ms<<8 | int64(x)
	}
	return time.UnixMilli(ms), true
}
