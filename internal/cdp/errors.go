package cdp

import (
	"errors"
	"fmt"
)

// Application error codes. The HTTP layer maps each code to a status in one
// table per API dialect; anything that is not an *Error is EINTERNAL.
const (
	EINVALID      = "invalid"      // the input is malformed or breaks a rule
	ENOTFOUND     = "not_found"    // the addressed entity does not exist
	ECONFLICT     = "conflict"     // the entity exists or changed concurrently
	EUNAUTHORIZED = "unauthorized" // missing or wrong credentials
	EFORBIDDEN    = "forbidden"    // authenticated but not allowed
	ETOOLARGE     = "too_large"    // the request body exceeds its cap
	ERATELIMIT    = "rate_limited" // the caller exceeded its rate limit
	EUNAVAILABLE  = "unavailable"  // a dependency (store, event log) is down
	EINTERNAL     = "internal"     // a bug or an unexpected failure
)

// Error is an error meant for the caller: a stable machine code and a message
// that is safe to show. Low-level causes are wrapped with %w and never shown.
type Error struct {
	Code    string
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, "" for nil
// and EINTERNAL for any other error.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, or a
// generic text for internal errors so that causes never leak to callers.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
