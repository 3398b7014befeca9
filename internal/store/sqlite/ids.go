package sqlite

import (
	"fmt"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// The ids an event row holds (its own, its profile's, its request's) are
// UUIDs that Switchyard made: 36 characters of text, 16 bytes of value.
// They are stored as the 16 bytes, which takes 60 bytes off every event
// row and its id and profile indexes (docs/benchmarks.md). An id that is
// not a lowercase canonical UUID (a profile id a Tracardi client chose)
// is stored as text; SQLite compares and indexes both kinds.

// packID returns the value an id is stored as; "" is NULL.
func packID(s string) any {
	if s == "" {
		return nil
	}
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return s
	}
	// The hyphens are where checked, and every group between them has an
	// even number of digits: pairs never straddle one.
	var u [16]byte
	j := 0
	for i := 0; i < 36; {
		if s[i] == '-' {
			i++
			continue
		}
		hi, lo := unhex(s[i]), unhex(s[i+1])
		if hi < 0 || lo < 0 {
			return s
		}
		u[j] = byte(hi<<4 | lo)
		i, j = i+2, j+1
	}
	return u[:]
}

// unhex is the value of a lowercase hex digit, or -1: an uppercase UUID
// stays text, so that it reads back exactly as it was given.
func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	}
	return -1
}

// unpackID is the id a stored value holds.
func unpackID(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case []byte:
		if len(v) != 16 {
			return string(v), nil
		}
		return cdp.FormatUUID([16]byte(v)), nil
	}
	return "", fmt.Errorf("id of type %T", v)
}

// idColumn scans a stored id into its text.
type idColumn struct{ s *string }

func (c idColumn) Scan(v any) (err error) {
	*c.s, err = unpackID(v)
	return err
}
