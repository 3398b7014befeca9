package cdp

import (
	"context"
	"time"
)

// EventLog is the durable, replicated log between the ingest edge and the
// processor (NATS JetStream). Every backend passes bus/bustest.
type EventLog interface {
	// Append adds data to the log under sourceID and returns once the log
	// has acknowledged it durably. A non-empty dedupID that was appended
	// within the log's duplicate window is dropped, and Append reports
	// duplicate=true without storing it again.
	Append(ctx context.Context, sourceID, dedupID string, data []byte) (duplicate bool, err error)

	// Consume delivers appended messages to h, in batches of whatever has
	// accumulated while the previous batch was handled, until ctx is done.
	// Every consumer in the same group shares the work; a message not acked
	// within the ack wait, or nak'ed, is delivered again.
	Consume(ctx context.Context, group string, h func(ctx context.Context, batch []Delivery)) error

	// Backlog reports what the group has not yet acked.
	Backlog(ctx context.Context, group string) (Backlog, error)

	// Ping reports whether the log is reachable.
	Ping(ctx context.Context) error
}

// RunQueue is the work queue of workflow runs: a log of run ids on a
// stream of its own, consumed by the runners' group, with the event log's
// operations (a run's message is acked once its advance is recorded).
type RunQueue interface {
	EventLog
}

// Delivery is one message handed to a consumer.
type Delivery interface {
	Data() []byte
	// Attempt is 1 on the first delivery and grows with each redelivery.
	Attempt() int
	// Ack marks the message as processed; it will not be delivered again.
	Ack() error
	// Nak asks for redelivery after delay.
	Nak(delay time.Duration) error
	// InProgress tells the log the message is still being handled, so
	// its ack wait starts again (a run waiting on a slow destination must
	// not be handed to another consumer meanwhile).
	InProgress() error
}

// Backlog is what a consumer group has still to process.
type Backlog struct {
	// Messages appended and not yet acked by the group.
	Messages uint64
	// Bytes the log holds for the group: the unacked messages, plus on a
	// log that trims periodically those acked since the last trim.
	Bytes uint64
	// Acked counts the messages the group has acked since the log began
	// (its ack floor); its growth over time is the group's throughput.
	Acked uint64
	// AckedHere and AckedHereBytes count the messages (and their bytes)
	// this process acked for the group since it started: a sample of the
	// group's messages, whose mean size turns the group's throughput in
	// messages into bytes. Messages differ in size (a group-committed
	// envelope holds one request when idle and hundreds under load), so
	// only bytes say how long a backlog takes to drain.
	AckedHere, AckedHereBytes uint64
	// Oldest is when the oldest message the group has not acked was
	// appended (zero when there is none, or the log cannot tell): every
	// message appended before it was processed.
	Oldest time.Time
}
