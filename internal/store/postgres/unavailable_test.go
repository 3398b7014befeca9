package postgres

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Errors that mean "PostgreSQL cannot be reached now" are EUNAVAILABLE (a
// 503, a retry); others keep their meaning. A pooled connection closed by
// an earlier failure answers "conn closed": seen mid-outage, it had made a
// run give up recording its attempt and send it again after the outage.
func TestUnavailable(t *testing.T) {
	for err, want := range map[error]bool{
		fmt.Errorf("record run: %w", pgconn.ErrConnClosed): true,
		io.ErrUnexpectedEOF:            true,
		&pgconn.PgError{Code: "08006"}: true,
		&pgconn.PgError{Code: "57P01"}: true,
		&pgconn.PgError{Code: "53100"}: true, // disk full
		&pgconn.PgError{Code: "23505"}: false,
		errors.New("syntax error"):     false,
	} {
		if got := cdp.ErrorCode(unavailable(err)) == cdp.EUNAVAILABLE; got != want {
			t.Errorf("%v: unavailable %v, want %v", err, got, want)
		}
	}
}
