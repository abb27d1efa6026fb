package registrar

import "fmt"

// regError is a REGISTER that fails: the reply it gets (code, reason, and
// the P-Registrar-Error text SER adds).
type regError struct {
	code   int
	reason string
	info   string
}

func (e *regError) Error() string { return fmt.Sprintf("%d %s: %s", e.code, e.reason, e.info) }

// Reasons of SER's registrar replies (reply.c).
const (
	reason400 = "Bad Request"
	reason500 = "Server Internal Error"
	reason503 = "Service Unavailable"
)

// The errors of SER's registrar (rerrno.h, reply.c), with their reply
// codes and P-Registrar-Error texts, and a few of this port for limits SER
// left to the database.
var (
	errULDelR     = &regError{500, reason500, "usrloc_record_delete failed"}
	errULGetR     = &regError{500, reason500, "usrloc_record_get failed"}
	errULInsC     = &regError{500, reason500, "usrloc_contact_insert failed"}
	errInvCSeq    = &regError{400, reason400, "Invalid CSeq number"}
	errToUser     = &regError{400, reason400, "No username in To URI"}
	errInvQ       = &regError{400, reason400, "Invalid q param in contact"}
	errParse      = &regError{400, reason400, "Message parse error"}
	errToMiss     = &regError{400, reason400, "To header not found"}
	errCIDMiss    = &regError{400, reason400, "Call-ID header not found"}
	errCSMiss     = &regError{400, reason400, "CSeq header not found"}
	errParseExp   = &regError{400, reason400, "Expires parse error"}
	errParseCont  = &regError{400, reason400, "Contact parse error"}
	errStarExp    = &regError{400, reason400, "* used in contact and expires is not zero"}
	errStarCont   = &regError{400, reason400, "* used in contact and more than 1 contact"}
	errTooMany    = &regError{503, reason503, "Too many registered contacts"}
	errContactLen = &regError{400, reason400, "Contact/received too long"}
	errCallIDLen  = &regError{400, reason400, "Callid too long"}
)
