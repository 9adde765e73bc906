// Package loupe holds what every other package of Loupe shares: the error
// vocabulary, users and their global roles.
package loupe

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to one HTTP status in web/errors.go and to one exit
// message in the CLI.
const (
	ECONFLICT     = "conflict"     // a write based on stale state, or a duplicate
	EFORBIDDEN    = "forbidden"    // signed in, but not allowed
	EINTERNAL     = "internal"     // a bug or an I/O failure; details are logged, not shown
	EINVALID      = "invalid"      // the input is wrong; the message says what and where
	ENOTFOUND     = "not_found"    // absent, or not visible to the caller
	EUNAUTHORIZED = "unauthorized" // not signed in, or bad credentials
	ETOOLARGE     = "too_large"    // a body or file over its limit
	ERATELIMIT    = "rate_limited" // too many attempts; try again later
	EUNSUPPORTED  = "unsupported"  // a format or media type Loupe does not know
)

// Error is an error Loupe reports to a person. Message is safe to show; Field
// names the input field at fault, when there is one.
type Error struct {
	Code    string
	Message string
	Field   string
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("loupe error: code=%s field=%s message=%s", e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("loupe error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldErrorf returns an EINVALID *Error that names the field at fault.
func FieldErrorf(field, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, and
// "Internal error." for any other error, so that internal details never
// reach a person.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// ErrorField returns the field named by the first *Error in err's chain.
func ErrorField(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}
