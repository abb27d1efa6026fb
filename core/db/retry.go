package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"
)

// ConnLost reports whether err says that the connection to the database
// was lost, in ways every driver shares: driver.ErrBadConn, a closed
// connection (sql.ErrConnDone), an unexpected EOF, a connection reset,
// refused or aborted, a broken pipe, or a network error that is not a
// timeout. A context error (timeout, cancellation) is never a lost
// connection: the time is up. Drivers add their own codes
// (Driver.ConnLost).
func ConnLost(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false
	}
	switch {
	case errors.Is(err, driver.ErrBadConn),
		errors.Is(err, sql.ErrConnDone),
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ENOTCONN),
		errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH):
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && !ne.Timeout() {
		var op *net.OpError
		return errors.As(err, &op)
	}
	return false
}
