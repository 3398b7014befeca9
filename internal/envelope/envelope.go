// Package envelope is the format of an event-log message: the batches of
// the requests one append carried. It is written once at the edge and read
// once by the processor, so it is a compact binary encoding (protobuf's
// wire format, through protowire) rather than JSON: the properties and
// context of an event travel as the bytes the client sent, with no
// escaping to undo, and decoding is a scan instead of a parse (measured
// in docs/benchmarks.md).
//
// A message starts with a version byte. Messages written before this
// format are a JSON array and start with '['; Decode reads both.
package envelope

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/packed"
)

// version1 starts every message in this format.
const version1 = 0x01

// Field numbers. Append only; never reuse one.
const (
	envBatch = 1

	batchID, batchSource, batchReceived, batchEvent, batchSession, batchRaw = 1, 2, 3, 4, 5, 6
	batchTrace                                                              = 7

	evID, evSource, evType, evMessage, evProfile, evSession         = 1, 2, 3, 4, 5, 6
	evTimestamp, evOriginal, evReceived, evProperties, evContext    = 7, 8, 9, 10, 11
	evTraits, evTag, evUser, evAnonymous, evUserAgent, evIdentifier = 12, 13, 14, 15, 16, 17
	evOp, evError, evRequest, evEphemeral, evReplayOf               = 18, 19, 20, 21, 22
	evRerun, evViolations                                           = 23, 24

	idKind, idValue = 1, 2

	sessID, sessProfile, sessContext, sessProperties = 1, 2, 3, 4

	rawMethod, rawPath, rawRemote, rawHeader, rawBody, rawSize, rawTruncated, rawReceived, rawPacked = 1, 2, 3, 4, 5, 6, 7, 8, 9
)

// Encode returns one batch's encoding, which Join puts in a message.
func Encode(b *cdp.Batch) []byte {
	// Sized up front: a batch of a hundred events grew through a dozen
	// copies (a fifth of the bytes a batch-loaded node allocated).
	size := 256
	for _, e := range b.Events {
		size += eventSize(e) + 8
	}
	if s := b.Session; s != nil {
		size += len(s.ID) + len(s.ProfileID) + len(s.Context) + len(s.Properties) + 16
	}
	// The captured request's header and body travel packed as the store
	// keeps them (the packing is the costly part, and this is the
	// request's goroutine).
	var raw []byte
	if r := b.Raw; r != nil {
		headerBody := r.Packed
		if headerBody == nil {
			headerBody = packed.EncodeRaw(r)
		}
		raw = make([]byte, 0, len(headerBody)+len(r.Method)+len(r.Path)+len(r.RemoteAddr)+48)
		raw = appendString(raw, rawMethod, r.Method)
		raw = appendString(raw, rawPath, r.Path)
		raw = appendString(raw, rawRemote, r.RemoteAddr)
		raw = appendRaw(raw, rawPacked, headerBody)
		raw = appendVarint(raw, rawSize, uint64(r.BodySize))
		raw = appendBool(raw, rawTruncated, r.Truncated)
		raw = appendTime(raw, rawReceived, r.ReceivedAt)
		size += len(raw) + 8
	}
	out := make([]byte, 0, size)
	out = appendString(out, batchID, b.ID)
	out = appendString(out, batchSource, b.SourceID)
	out = appendTime(out, batchReceived, b.ReceivedAt)
	out = appendString(out, batchTrace, b.TraceParent)
	var ev []byte // one event at a time, reused: its length comes first
	for _, e := range b.Events {
		ev = appendEvent(ev[:0], e)
		out = protowire.AppendTag(out, batchEvent, protowire.BytesType)
		out = protowire.AppendBytes(out, ev)
	}
	if s := b.Session; s != nil {
		var m []byte
		m = appendString(m, sessID, s.ID)
		m = appendString(m, sessProfile, s.ProfileID)
		m = appendRaw(m, sessContext, s.Context)
		m = appendRaw(m, sessProperties, s.Properties)
		out = protowire.AppendTag(out, batchSession, protowire.BytesType)
		out = protowire.AppendBytes(out, m)
	}
	if raw != nil {
		out = protowire.AppendTag(out, batchRaw, protowire.BytesType)
		out = protowire.AppendBytes(out, raw)
	}
	return out
}

// eventSize is about the size of e encoded (a little over, for the tags
// and lengths).
func eventSize(e *cdp.Event) int {
	n := 128 + len(e.ID) + len(e.SourceID) + len(e.Type) + len(e.MessageID) + len(e.ProfileID) +
		len(e.SessionID) + len(e.Properties) + len(e.Context) + len(e.Traits) + len(e.UserID) +
		len(e.AnonymousID) + len(e.UserAgent) + len(e.Op) + len(e.Error) + len(e.RequestID) + len(e.ReplayOf)
	for _, t := range e.Tags {
		n += len(t) + 4
	}
	for _, v := range e.Violations {
		n += len(v.Plan) + len(v.Kind) + len(v.Path) + len(v.Message) + 64
	}
	for _, id := range e.Identifiers {
		n += len(id.Kind) + len(id.Value) + 8
	}
	return n
}

func appendEvent(out []byte, e *cdp.Event) []byte {
	out = appendString(out, evID, e.ID)
	out = appendString(out, evSource, e.SourceID)
	out = appendString(out, evType, e.Type)
	out = appendString(out, evMessage, e.MessageID)
	out = appendString(out, evProfile, e.ProfileID)
	out = appendString(out, evSession, e.SessionID)
	out = appendTime(out, evTimestamp, e.Timestamp)
	if e.OriginalTimestamp != nil {
		out = appendTime(out, evOriginal, *e.OriginalTimestamp)
	}
	out = appendTime(out, evReceived, e.ReceivedAt)
	out = appendRaw(out, evProperties, e.Properties)
	out = appendRaw(out, evContext, e.Context)
	out = appendRaw(out, evTraits, e.Traits)
	for _, t := range e.Tags {
		out = protowire.AppendTag(out, evTag, protowire.BytesType)
		out = protowire.AppendString(out, t)
	}
	out = appendString(out, evUser, e.UserID)
	out = appendString(out, evAnonymous, e.AnonymousID)
	out = appendString(out, evUserAgent, e.UserAgent)
	for _, id := range e.Identifiers {
		out = protowire.AppendTag(out, evIdentifier, protowire.BytesType)
		out = protowire.AppendVarint(out, uint64(stringField(idKind, id.Kind)+stringField(idValue, id.Value)))
		out = appendString(out, idKind, id.Kind)
		out = appendString(out, idValue, id.Value)
	}
	out = appendString(out, evOp, e.Op)
	out = appendString(out, evError, e.Error)
	out = appendString(out, evRequest, e.RequestID)
	out = appendString(out, evReplayOf, e.ReplayOf)
	out = appendBool(out, evRerun, e.Rerun)
	if len(e.Violations) > 0 {
		// Rare, and read only to be stored: JSON is enough.
		data, _ := json.Marshal(e.Violations)
		out = appendRaw(out, evViolations, data)
	}
	return appendBool(out, evEphemeral, e.Ephemeral)
}

// Join makes one message of encoded batches.
func Join(batches [][]byte) []byte {
	n := 1
	for _, b := range batches {
		n += len(b) + 6
	}
	out := append(make([]byte, 0, n), version1)
	for _, b := range batches {
		out = protowire.AppendTag(out, envBatch, protowire.BytesType)
		out = protowire.AppendBytes(out, b)
	}
	return out
}

// Decode reads a message: this format, or the JSON array of earlier
// releases. Every batch it returns is non-nil, and there is at least one.
func Decode(data []byte) (cdp.Envelope, error) {
	if len(data) > 0 && data[0] == '[' {
		var env cdp.Envelope
		if err := json.Unmarshal(data, &env); err != nil {
			return nil, err
		}
		for _, b := range env {
			if b == nil {
				return nil, errors.New("null batch")
			}
		}
		if len(env) == 0 {
			return nil, errors.New("no batches")
		}
		return env, nil
	}
	if len(data) == 0 || data[0] != version1 {
		return nil, errors.New("not an event-log message")
	}
	var env cdp.Envelope
	err := fields(data[1:], func(num protowire.Number, v []byte) error {
		if num != envBatch {
			return nil
		}
		b, err := decodeBatch(v)
		if err != nil {
			return err
		}
		env = append(env, b)
		return nil
	})
	if err == nil && len(env) == 0 {
		err = errors.New("no batches")
	}
	return env, err
}

func decodeBatch(data []byte) (*cdp.Batch, error) {
	b := &cdp.Batch{}
	err := fields(data, func(num protowire.Number, v []byte) (err error) {
		switch num {
		case batchID:
			b.ID = string(v)
		case batchSource:
			b.SourceID = string(v)
		case batchReceived:
			err = b.ReceivedAt.UnmarshalBinary(v)
		case batchEvent:
			var e *cdp.Event
			if e, err = decodeEvent(v); err == nil {
				b.Events = append(b.Events, e)
			}
		case batchSession:
			b.Session = &cdp.SessionUpdate{}
			err = fields(v, func(num protowire.Number, v []byte) error {
				switch num {
				case sessID:
					b.Session.ID = string(v)
				case sessProfile:
					b.Session.ProfileID = string(v)
				case sessContext:
					b.Session.Context = clone(v)
				case sessProperties:
					b.Session.Properties = clone(v)
				}
				return nil
			})
		case batchRaw:
			b.Raw, err = decodeRaw(v)
		case batchTrace:
			b.TraceParent = string(v)
		}
		return err
	})
	return b, err
}

func decodeRaw(data []byte) (*cdp.RawRequest, error) {
	r := &cdp.RawRequest{}
	err := fields(data, func(num protowire.Number, v []byte) (err error) {
		switch num {
		case rawMethod:
			r.Method = string(v)
		case rawPath:
			r.Path = string(v)
		case rawRemote:
			r.RemoteAddr = string(v)
		case rawHeader:
			r.Header = string(v)
		case rawBody:
			r.Body = clone(v)
		case rawSize:
			var n uint64
			n, err = varint(v)
			r.BodySize = int64(n)
		case rawTruncated:
			var n uint64
			n, err = varint(v)
			r.Truncated = n != 0
		case rawReceived:
			err = r.ReceivedAt.UnmarshalBinary(v)
		case rawPacked:
			r.Packed = clone(v)
			err = packed.DecodeRaw(r.Packed, r)
		}
		return err
	})
	return r, err
}

func decodeEvent(data []byte) (*cdp.Event, error) {
	e := &cdp.Event{}
	err := fields(data, func(num protowire.Number, v []byte) (err error) {
		switch num {
		case evID:
			e.ID = string(v)
		case evSource:
			e.SourceID = string(v)
		case evType:
			e.Type = string(v)
		case evMessage:
			e.MessageID = string(v)
		case evProfile:
			e.ProfileID = string(v)
		case evSession:
			e.SessionID = string(v)
		case evTimestamp:
			err = e.Timestamp.UnmarshalBinary(v)
		case evOriginal:
			var t time.Time
			if err = t.UnmarshalBinary(v); err == nil {
				e.OriginalTimestamp = &t
			}
		case evReceived:
			err = e.ReceivedAt.UnmarshalBinary(v)
		case evProperties:
			e.Properties = clone(v)
		case evContext:
			e.Context = clone(v)
		case evTraits:
			e.Traits = clone(v)
		case evTag:
			e.Tags = append(e.Tags, string(v))
		case evUser:
			e.UserID = string(v)
		case evAnonymous:
			e.AnonymousID = string(v)
		case evUserAgent:
			e.UserAgent = string(v)
		case evIdentifier:
			var id cdp.Identifier
			err = fields(v, func(num protowire.Number, v []byte) error {
				switch num {
				case idKind:
					id.Kind = string(v)
				case idValue:
					id.Value = string(v)
				}
				return nil
			})
			e.Identifiers = append(e.Identifiers, id)
		case evOp:
			e.Op = string(v)
		case evError:
			e.Error = string(v)
		case evRequest:
			e.RequestID = string(v)
		case evReplayOf:
			e.ReplayOf = string(v)
		case evEphemeral:
			var n uint64
			n, err = varint(v)
			e.Ephemeral = n != 0
		case evRerun:
			var n uint64
			n, err = varint(v)
			e.Rerun = n != 0
		case evViolations:
			err = json.Unmarshal(v, &e.Violations)
		}
		return err
	})
	return e, err
}

// fields calls fn with each field of a message: its number and, for a
// length-delimited field, its bytes; for a varint, the varint's bytes.
// Unknown fields are passed too, for fn to skip: a newer writer may add
// fields an older reader does not know.
func fields(data []byte, fn func(num protowire.Number, v []byte) error) error {
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 {
			return fmt.Errorf("envelope: %w", protowire.ParseError(n))
		}
		data = data[n:]
		var v []byte
		switch typ {
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(data)
		case protowire.VarintType:
			_, n = protowire.ConsumeVarint(data)
			if n >= 0 {
				v = data[:n]
			}
		default:
			n = protowire.ConsumeFieldValue(num, typ, data)
		}
		if n < 0 {
			return fmt.Errorf("envelope: field %d: %w", num, protowire.ParseError(n))
		}
		data = data[n:]
		if err := fn(num, v); err != nil {
			return err
		}
	}
	return nil
}

func varint(v []byte) (uint64, error) {
	n, k := protowire.ConsumeVarint(v)
	if k < 0 {
		return 0, protowire.ParseError(k)
	}
	return n, nil
}

// clone copies v out of the message, which the event log owns; nil stays
// nil and an empty value stays empty.
func clone(v []byte) []byte {
	return append(make([]byte, 0, len(v)), v...)
}

// stringField is the size appendString gives s.
func stringField(num protowire.Number, s string) int {
	if s == "" {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeBytes(len(s))
}

func appendString(out []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return out
	}
	out = protowire.AppendTag(out, num, protowire.BytesType)
	return protowire.AppendString(out, s)
}

// appendRaw writes v when it is not nil (an empty value is written, so
// that it decodes as empty, not nil).
func appendRaw(out []byte, num protowire.Number, v []byte) []byte {
	if v == nil {
		return out
	}
	out = protowire.AppendTag(out, num, protowire.BytesType)
	return protowire.AppendBytes(out, v)
}

func appendVarint(out []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return out
	}
	out = protowire.AppendTag(out, num, protowire.VarintType)
	return protowire.AppendVarint(out, v)
}

func appendBool(out []byte, num protowire.Number, v bool) []byte {
	if !v {
		return out
	}
	return appendVarint(out, num, 1)
}

// appendTime writes t in Go's binary time form (seconds, nanoseconds and
// zone offset: a client's original timestamp keeps its offset); the zero
// time is not written.
func appendTime(out []byte, num protowire.Number, t time.Time) []byte {
	if t.IsZero() {
		return out
	}
	b, err := t.MarshalBinary()
	if err != nil { // an offset that is not whole minutes: keep the instant
		b, _ = t.UTC().MarshalBinary()
	}
	out = protowire.AppendTag(out, num, protowire.BytesType)
	return protowire.AppendBytes(out, b)
}
