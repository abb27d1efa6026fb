package location

import (
	"errors"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
)

// This file holds what both registrars read from a REGISTER and write
// into its reply (RFC 3261 §10.3).

// Errors of Contacts.
var (
	// ErrContact: a Contact header does not parse.
	ErrContact = errors.New("bad Contact header")
	// ErrStar: a "*" contact is not alone.
	ErrStar = errors.New(`"*" contact not alone`)
)

// Param returns a header or URI parameter by name, case-insensitively.
func Param(p sip.HeaderParams, name string) (string, bool) {
	for _, kv := range p {
		if strings.EqualFold(kv.K, name) {
			return kv.V, true
		}
	}
	return "", false
}

// Unquote removes the double quotes around a parameter value.
func Unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// ExpiresHeader reads the Expires header of a message: its value (capped
// at 2^31-1) and whether it is there. ok is false when it does not parse.
func ExpiresHeader(msg sip.Message) (n int, present, ok bool) {
	h := sipmsg.Header(msg, "Expires")
	if h == nil {
		return 0, false, true
	}
	v, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32)
	if err != nil {
		return 0, false, false
	}
	return int(min(v, 1<<31-1)), true, true
}

// Contacts returns the Contact headers of a message and whether they are
// the star: ErrContact when one does not parse, ErrStar when a star is
// not alone.
func Contacts(msg sip.Message) ([]*sip.ContactHeader, bool, error) {
	var out []*sip.ContactHeader
	star := false
	for _, h := range sipmsg.Headers(msg, "Contact") {
		c, ok := h.(*sip.ContactHeader)
		if !ok || c == nil {
			return nil, false, ErrContact
		}
		if c.Address.Wildcard {
			star = true
		}
		out = append(out, c)
	}
	if star && len(out) > 1 {
		return nil, false, ErrStar
	}
	return out, star, nil
}

// Binding is a binding as a REGISTER reply lists it.
type Binding struct {
	URI string
	// Q is the q value in thousandths (-1: none).
	Q int
	// Permanent bindings have no expires parameter; Expires is the number
	// of seconds the others have left.
	Permanent bool
	Expires   int64
	// Received, when set, is given in the parameter ReceivedParam names.
	Received, ReceivedParam string
}

// AppendBinding adds a binding to the Contact header being built in b:
// "Contact: " before the first, ", " before the others, then
// <uri>[;q=…][;expires=…][;received="…"].
func AppendBinding(b *strings.Builder, c Binding) {
	if b.Len() == 0 {
		b.WriteString("Contact: ")
	} else {
		b.WriteString(", ")
	}
	b.WriteString("<" + c.URI + ">")
	if q := QString(c.Q); q != "" {
		b.WriteString(";q=" + q)
	}
	if !c.Permanent {
		b.WriteString(";expires=" + strconv.FormatInt(c.Expires, 10))
	}
	if c.Received != "" {
		b.WriteString(";" + c.ReceivedParam + "=\"" + c.Received + "\"")
	}
}

// SplitList splits a header value list (a Path vector) at the commas
// outside <> and quotes, blanks trimmed, empty elements left out.
func SplitList(s string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case '<':
			if !quoted {
				depth++
			}
		case '>':
			if !quoted && depth > 0 {
				depth--
			}
		case ',':
			if !quoted && depth == 0 {
				if e := strings.TrimSpace(s[start:i]); e != "" {
					out = append(out, e)
				}
				start = i + 1
			}
		}
	}
	if e := strings.TrimSpace(s[start:]); e != "" {
		out = append(out, e)
	}
	return out
}
