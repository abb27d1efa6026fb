package cfg

import (
	"strconv"

	"sip-router.org/core/sr"
)

// tokKind is the lexical class of a token.
type tokKind uint8

const (
	tEOF    tokKind = iota
	tIdent          // identifiers and keywords: keywords are matched by the parser
	tNum            // a run of digits and letters starting with a digit; checked by the parser
	tString         // the value of a string, escapes applied, adjacent "..." joined
	tIPv4           // 10.0.0.1
	tIPv6           // ::1, fe80::1 (without brackets)
	tPV             // a pseudo-variable or attribute; text is its source
	tSelect         // a select; text is its source
	tOp             // punctuation and operators; text is the operator
)

// token is one token with its position. Tokens that come from a #!define
// carry the position of the name that was replaced.
type token struct {
	kind tokKind
	text string
	pos  sr.Pos
	// space is set when blanks, a newline or a comment come before the
	// token; unquoted addresses (udp:10.0.0.1:5060) are made of tokens
	// written without space between them.
	space bool
	// nl is set for the first token of a line.
	nl bool
	// mode is the compatibility mode where the token was read.
	mode   Mode
	pvKind PVKind
	// bad marks a token for which an error was reported already; the
	// parser reports nothing more about it.
	bad bool
}

func (t token) is(op string) bool    { return t.kind == tOp && t.text == op }
func (t token) isWord(w string) bool { return t.kind == tIdent && t.text == w }

// describe names the token for error messages.
func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of file"
	case tIdent:
		return "identifier " + strconv.Quote(t.text)
	case tNum:
		return "number " + t.text
	case tString:
		s := t.text
		if len(s) > 40 {
			s = s[:37] + "..."
		}
		return "string " + strconv.Quote(s)
	case tIPv4, tIPv6:
		return "address " + t.text
	case tPV:
		return "pseudo-variable " + t.text
	case tSelect:
		return "select " + t.text
	}
	return "'" + t.text + "'"
}
