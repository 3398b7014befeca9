package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// pool is pgxpool's pool whose reads say when PostgreSQL could not be
// reached: callers must tell "the store is down, try again" (a 503 to a
// client, a later redelivery to the processor) from "this data cannot be
// stored" (a 500, a poison event).
type pool struct{ *pgxpool.Pool }

func (p pool) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	r, err := p.Pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, unavailable(err)
	}
	return rows{r}, nil
}

func (p pool) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return row{p.Pool.QueryRow(ctx, sql, args...)}
}

func (p pool) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	tag, err := p.Pool.Exec(ctx, sql, args...)
	return tag, unavailable(err)
}

type rows struct{ pgx.Rows }

func (r rows) Err() error { return unavailable(r.Rows.Err()) }

type row struct{ pgx.Row }

func (r row) Scan(dest ...any) error { return unavailable(r.Row.Scan(dest...)) }

// unavailable marks err as cdp.EUNAVAILABLE, keeping it as the cause, when
// it says that PostgreSQL could not be reached, went away, or refuses
// connections for now.
func unavailable(err error) error {
	if err == nil || !lostConnection(err) || cdp.ErrorCode(err) == cdp.EUNAVAILABLE {
		return err
	}
	return fmt.Errorf("%w: %w", cdp.Errorf(cdp.EUNAVAILABLE, "the store is unreachable"), err)
}

func lostConnection(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08: connection exception; 57P01-03: the server is shutting
		// down or starting; 53300: too many connections; 53100: its disk
		// is full (a write succeeds once space is freed).
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" ||
			pe.Code == "57P03" || pe.Code == "53300" || pe.Code == "53100"
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	// ErrConnClosed: a pooled connection that an earlier failure closed
	// (the socket went away mid-query) used again.
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, pgconn.ErrConnClosed)
}
