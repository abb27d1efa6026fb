package sipmsg

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// Errors returned by the header parsers NewParser installs.
var (
	// ErrCSeq is a CSeq value that is not "number method" with a 32-bit
	// unsigned number and a token method.
	ErrCSeq = errors.New("invalid CSeq")
	// ErrAddrSpecHeaders is a To, From or Contact value in addr-spec form
	// (no angle brackets) whose URI carries "?" headers: RFC 3261 §20.10
	// requires the name-addr form then (RFC 4475 regbadct).
	ErrAddrSpecHeaders = errors.New("URI with headers must be enclosed in <>")
	// ErrQuotedComma is a Via whose parameters hold a quoted comma, which
	// sipgo's Via parser cannot read.
	ErrQuotedComma = errors.New("comma inside a quoted Via parameter")
)

// MaxCSeq is the largest CSeq number a receiver accepts (RFC 3261 §8.1.1.5:
// a 32-bit unsigned integer).
const MaxCSeq = 1<<32 - 1

// NewParser returns a sipgo parser for messages of at most maxLen bytes
// (sipgo's default when maxLen <= 0) with the project's header parsers in
// place of a few of sipgo's:
//
//   - CSeq accepts numbers up to 2^32-1 (sipgo stops at 2^31-1, which
//     RFC 3261 only imposes on senders), rejects larger ones, and stores the
//     method without the blanks sipgo keeps when the separator is several
//     spaces ("CSeq: 1   INVITE").
//   - To, From and Contact reject an addr-spec (no <>) whose URI carries
//     "?" headers (RFC 3261 §20.10, RFC 4475 regbadct).
//   - Via, To, From and Contact tolerate the linear white space RFC 3261
//     allows around "/", ":", ";" and "=" (RFC 4475 wsinv), which sipgo's
//     parsers keep inside transports, hosts and parameter names: the value
//     is normalised before sipgo parses it, so the message is repaired
//     (and re-rendered without the blanks). White space inside <> is not
//     touched (RFC 4475 badaspec stays invalid).
//   - Via and Contact values are split on commas outside quoted strings
//     and <> (sipgo's Via parser splits only after parameters, so
//     "Via: SIP/2.0/UDP a, SIP/2.0/UDP b" gave one Via with a broken host).
//
// The parser is read-only after creation and safe for concurrent use.
func NewParser(maxLen int) *sip.Parser {
	base := sip.DefaultHeadersParser()
	m := make(map[string]sip.HeaderParser, len(base)+2)
	for k, v := range base {
		m[k] = v
	}
	m["cseq"] = parseCSeq
	for _, name := range []string{"via", "v"} {
		m[name] = valueParser(base[name], normVia, true, false)
	}
	for _, name := range []string{"contact", "m"} {
		m[name] = valueParser(base[name], normNameAddr, true, true)
	}
	for _, name := range []string{"to", "t", "from", "f"} {
		m[name] = valueParser(base[name], normNameAddr, false, true)
	}
	p := sip.NewParser(sip.WithHeadersParsers(m))
	if maxLen > 0 {
		p.MaxMessageLength = maxLen
	}
	return p
}

// parseCSeq parses "number LWS method". The header parser hands the value
// already trimmed.
func parseCSeq(_ []byte, text string) (sip.Header, error) {
	i := 0
	for i < len(text) && text[i] >= '0' && text[i] <= '9' {
		i++
	}
	if i == 0 || i == len(text) || (text[i] != ' ' && text[i] != '\t') {
		return nil, fmt.Errorf("%w: %q", ErrCSeq, clip(text))
	}
	n, err := strconv.ParseUint(text[:i], 10, 32)
	if err != nil {
		return nil, fmt.Errorf("%w: number out of range", ErrCSeq)
	}
	method := trimLWS(text[i:])
	if method == "" || !isToken(method) {
		return nil, fmt.Errorf("%w: bad method %q", ErrCSeq, clip(method))
	}
	return &sip.CSeqHeader{SeqNo: uint32(n), MethodName: sip.RequestMethod(method)}, nil
}

// valueParser wraps one of sipgo's header parsers: the first value of
// text (up to a top-level comma when split) is normalised by norm and
// parsed by inner; a comma is then reported to sipgo the way its own
// parsers do, so that sipgo calls the parser again on the rest. With
// guard, an addr-spec value carrying "?" headers is refused.
func valueParser(inner sip.HeaderParser, norm func(string) string, split, guard bool) sip.HeaderParser {
	return func(name []byte, text string) (sip.Header, error) {
		first, comma := text, -1
		if split && commaErrType != nil {
			if comma = topLevelComma(text); comma >= 0 {
				first = text[:comma]
			}
		}
		if guard && !addrSpecOK(first) {
			return nil, ErrAddrSpecHeaders
		}
		h, err := inner(name, norm(first))
		if err != nil && commaErrType != nil && reflect.TypeOf(err) == commaErrType {
			// sipgo saw a comma this value has only inside a quoted string.
			return nil, ErrQuotedComma
		}
		if err != nil || comma < 0 {
			return h, err
		}
		return h, commaAt(comma)
	}
}

// commaErrType is the type of the error sipgo's parsers return to say
// "one value parsed, more after the comma at this offset" (an unexported
// int type). It is taken from a sample at start-up; if sipgo ever changes
// it, values are no longer split here and sipgo's own splitting applies.
var commaErrType = func() reflect.Type {
	p := sip.DefaultHeadersParser()["contact"]
	if p == nil {
		return nil
	}
	_, err := p(nil, "<sip:a@b>,<sip:c@d>")
	if err == nil {
		return nil
	}
	t := reflect.TypeOf(err)
	if t.Kind() != reflect.Int || reflect.ValueOf(err).Int() != 9 {
		return nil
	}
	return t
}()

// commaAt builds sipgo's comma error for offset i.
func commaAt(i int) error {
	v := reflect.New(commaErrType).Elem()
	v.SetInt(int64(i))
	return v.Interface().(error)
}

// topLevelComma returns the index of the first comma of s outside quoted
// strings and <>, or -1.
func topLevelComma(s string) int {
	inQuote, esc, angle := false, false, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case esc:
			esc = false
		case inQuote:
			if c == '\\' {
				esc = true
			} else if c == '"' {
				inQuote = false
			}
		case c == '"':
			inQuote = true
		case c == '<':
			angle++
		case c == '>' && angle > 0:
			angle--
		case c == ',' && angle == 0:
			return i
		}
	}
	return -1
}

func isLWS(c byte) bool { return c == ' ' || c == '\t' }

// normVia rewrites one Via value with the white space RFC 3261 allows
// (around "/", ":", ";", "=") removed: "SIP / 2.0 / UDP host : 5060 ;
// branch = x" becomes "SIP/2.0/UDP host:5060;branch=x". A value that does
// not have the expected shape is returned unchanged (and fails later).
func normVia(s string) string {
	s = trimLWS(s)
	if strings.IndexByte(s, '\t') < 0 && strings.Count(s, " ") == 1 {
		return s // the usual case: the one blank before sent-by
	}
	p := 0
	lws := func() int {
		st := p
		for p < len(s) && isLWS(s[p]) {
			p++
		}
		return p - st
	}
	tok := func() string {
		st := p
		for p < len(s) && tokenChar[s[p]] {
			p++
		}
		return s[st:p]
	}
	slash := func() bool {
		lws()
		if p >= len(s) || s[p] != '/' {
			return false
		}
		p++
		lws()
		return true
	}
	name := tok()
	if name == "" || !slash() {
		return s
	}
	ver := tok()
	if ver == "" || !slash() {
		return s
	}
	tr := tok()
	if tr == "" || lws() == 0 || p >= len(s) {
		return s
	}
	st := p
	if s[p] == '[' {
		j := strings.IndexByte(s[p:], ']')
		if j < 0 {
			return s
		}
		p += j + 1
	} else {
		for p < len(s) && (isAlnum(s[p]) || s[p] == '.' || s[p] == '-' || s[p] == '_') {
			p++
		}
	}
	host := s[st:p]
	if host == "" {
		return s
	}
	lws()
	port := ""
	if p < len(s) && s[p] == ':' {
		p++
		lws()
		st := p
		for p < len(s) && s[p] >= '0' && s[p] <= '9' {
			p++
		}
		port = s[st:p]
		if port == "" {
			return s
		}
		lws()
	}
	rest := s[p:]
	if rest != "" && rest[0] != ';' {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(name)
	b.WriteByte('/')
	b.WriteString(ver)
	b.WriteByte('/')
	b.WriteString(tr)
	b.WriteByte(' ')
	b.WriteString(host)
	if port != "" {
		b.WriteByte(':')
		b.WriteString(port)
	}
	// Parameters: drop white space outside quoted strings.
	inQuote, esc := false, false
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		switch {
		case esc:
			esc = false
		case inQuote:
			if c == '\\' {
				esc = true
			} else if c == '"' {
				inQuote = false
			}
		case c == '"':
			inQuote = true
		case isLWS(c):
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// normNameAddr removes the white space around ";" and "=" outside quoted
// strings and <> of a To/From/Contact value (SEMI and EQUAL allow it), so
// that sipgo reads parameter names and values without blanks. Display
// names and what is inside <> are left as they are.
func normNameAddr(s string) string {
	s = trimLWS(s)
	var b []byte // allocated on the first change
	inQuote, esc, angle := false, false, 0
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case esc:
			esc = false
		case inQuote:
			if c == '\\' {
				esc = true
			} else if c == '"' {
				inQuote = false
			}
		case angle > 0:
			if c == '>' {
				angle--
			}
		case c == '"':
			inQuote = true
		case c == '<':
			angle++
		case isLWS(c):
			j := i
			for j < len(s) && isLWS(s[j]) {
				j++
			}
			prev, next := byte(0), byte(0)
			if i > 0 {
				prev = s[i-1]
			}
			if j < len(s) {
				next = s[j]
			}
			if prev == ';' || prev == '=' || next == ';' || next == '=' {
				if b == nil {
					b = append(make([]byte, 0, len(s)), s[:i]...)
				}
				i = j
				continue
			}
			if b != nil {
				b = append(b, s[i:j]...)
			}
			i = j
			continue
		}
		if b != nil {
			b = append(b, c)
		}
		i++
	}
	if b == nil {
		return s
	}
	return string(b)
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// addrSpecOK scans the first value of a To/From/Contact text (up to a comma
// outside quotes and brackets) and reports false for an addr-spec with a
// "?" outside a quoted string.
func addrSpecOK(s string) bool {
	inQuote, esc, angle, question := false, false, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case esc:
			esc = false
		case inQuote:
			switch c {
			case '\\':
				esc = true
			case '"':
				inQuote = false
			}
		case c == '"':
			inQuote = true
		case c == '<':
			angle = true
		case c == ',' && !angle:
			return !question
		case c == '?' && !angle:
			question = true
		}
		if angle {
			return true
		}
	}
	return !question
}

func trimLWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// isToken reports whether s is an RFC 3261 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenChar[s[i]] {
			return false
		}
	}
	return true
}

var tokenChar = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-.!%*_+`'~" {
		t[c] = true
	}
	return t
}()

// clip shortens s for error messages so that a huge value is never copied
// into a log line.
func clip(s string) string {
	const n = 64
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
