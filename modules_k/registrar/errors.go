package registrar

import "fmt"

// regError is a REGISTER that fails: the reply it gets (code, reason, the
// P-Registrar-Error text Kamailio adds) and extra header lines.
type regError struct {
	code   int
	reason string
	info   string
	extra  []string
}

func (e *regError) Error() string { return fmt.Sprintf("%d %s: %s", e.code, e.reason, e.info) }

// The errors of Kamailio's registrar (rerrno.h, reply.c), with their
// reply codes and P-Registrar-Error texts.
var (
	errULDelR     = &regError{500, "Server Internal Error", "usrloc_record_delete failed", nil}
	errULGetR     = &regError{500, "Server Internal Error", "usrloc_record_get failed", nil}
	errULUpdC     = &regError{500, "Server Internal Error", "usrloc_contact_update failed", nil}
	errInvCSeq    = &regError{400, "Bad Request", "Invalid CSeq number", nil}
	errToUser     = &regError{400, "Bad Request", "No username in To URI", nil}
	errAORLen     = &regError{500, "Server Internal Error", "Address Of Record too long", nil}
	errAORParse   = &regError{400, "Bad Request", "Error while parsing AOR", nil}
	errInvQ       = &regError{400, "Bad Request", "Invalid q param in contact", nil}
	errParse      = &regError{400, "Bad Request", "Message parse error", nil}
	errToMiss     = &regError{400, "Bad Request", "To header not found", nil}
	errCIDMiss    = &regError{400, "Bad Request", "Call-ID header not found", nil}
	errCSMiss     = &regError{400, "Bad Request", "CSeq header not found", nil}
	errParseExp   = &regError{400, "Bad Request", "Expires parse error", nil}
	errParseCont  = &regError{400, "Bad Request", "Contact parse error", nil}
	errStarExp    = &regError{400, "Bad Request", "* used in contact and expires is not zero", nil}
	errStarCont   = &regError{400, "Bad Request", "* used in contact and more than 1 contact", nil}
	errUnescape   = &regError{400, "Bad Request", "Error while unescaping username", nil}
	errTooMany    = &regError{503, "Service Unavailable", "Too many registered contacts", nil}
	errContactLen = &regError{400, "Bad Request", "Contact/received too long", nil}
	errCallIDLen  = &regError{400, "Bad Request", "Callid too long", nil}
	errParsePath  = &regError{400, "Bad Request", "Path parse error", nil}
	errPathUnsup  = &regError{420, "Bad Extension", "No support for found Path indicated", []string{"Unsupported: path"}}
)

// errLowExpires is the 423 of a contact whose expiry is below
// min_expires (RFC 3261 §10.3 step 7).
func errLowExpires(min int) *regError {
	return &regError{423, "Interval Too Brief", "Expires too low", []string{fmt.Sprintf("Min-Expires: %d", min)}}
}
