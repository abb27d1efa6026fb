package transport

import (
	"bytes"
	"errors"
	"strconv"
)

// Framing errors: each closes the connection (Kamailio does the same; the
// stream has no message boundary left to resynchronise on).
var (
	errNoContentLength  = errors.New("no Content-Length in a stream message")
	errBadContentLength = errors.New("invalid Content-Length")
	errDupContentLength = errors.New("several Content-Length headers")
	errStreamTooLarge   = errors.New("message larger than the stream limit")
	errBareCR           = errors.New("CR not followed by LF")
	errBareLF           = errors.New("LF not preceded by CR")
)

// framer follows the message boundaries of one TCP/TLS byte stream, as
// sipgo's stream parser will find them, without parsing: it finds the
// header section's end and the Content-Length, then skips the body. It
// runs in sipgo's read filter, on the bytes of each read, before sipgo's
// parser sees them, and so
//
//   - refuses framing defects (no, negative, huge, non-numeric or repeated
//     Content-Length; bare CR or LF in the header section; a message over
//     the limit) before anything of the message is delivered: the
//     connection is closed, never answered (RFC 4475 clerr/ncl/mcl01 over
//     TCP);
//   - records the length of every complete message, which sipgo does not
//     report, for Incoming.Len.
//
// It keeps at most lineCap bytes of one line: only a Content-Length line
// needs to be read, and a longer one is refused.
type framer struct {
	max       int
	state     uint8
	n         int    // bytes of the current message so far
	startLine bool   // the current line is the start line
	line      []byte // the current line, first lineCap bytes, without CR
	lineLen   int    // its full length
	pendingCR bool   // the last byte read was a CR of the current line
	inCL      bool   // the current header is Content-Length
	clVal     []byte // its value so far (folding joined)
	cl        int64  // the Content-Length, -1 if none yet
	body      int64  // body bytes still to come
}

const (
	frStart   = iota // between messages: CRLFs are skipped
	frHeaders        // in the start line or the header section
	frBody           // in the body
)

const lineCap = 256

func newFramer(max int) framer { return framer{max: max, cl: -1} }

// feed consumes one read and appends the lengths of the messages it
// completes to lens.
func (f *framer) feed(data []byte, lens *[]int) error {
	for len(data) > 0 {
		switch f.state {
		case frStart:
			i := 0
			for i < len(data) && (data[i] == '\r' || data[i] == '\n') {
				i++
			}
			data = data[i:]
			if len(data) == 0 {
				return nil
			}
			f.state, f.n, f.startLine, f.cl = frHeaders, 0, true, -1
		case frHeaders:
			j := bytes.IndexByte(data, '\n')
			if j < 0 {
				f.n += len(data)
				if f.n > f.max {
					return errStreamTooLarge
				}
				return f.lineBytes(data, false)
			}
			f.n += j + 1
			if f.n > f.max {
				return errStreamTooLarge
			}
			if err := f.lineBytes(data[:j], true); err != nil {
				return err
			}
			data = data[j+1:]
			if err := f.endLine(lens); err != nil {
				return err
			}
		case frBody:
			k := int64(len(data))
			if k > f.body {
				k = f.body
			}
			f.body -= k
			f.n += int(k)
			data = data[k:]
			if f.body == 0 {
				f.done(lens)
			}
		}
	}
	return nil
}

// lineBytes adds a piece of the current line; terminated means a LF
// follows it.
func (f *framer) lineBytes(seg []byte, terminated bool) error {
	if len(seg) > 0 && f.pendingCR {
		return errBareCR
	}
	if i := bytes.IndexByte(seg, '\r'); i >= 0 && i != len(seg)-1 {
		return errBareCR
	}
	endsCR := len(seg) > 0 && seg[len(seg)-1] == '\r'
	if terminated {
		if !endsCR && !(len(seg) == 0 && f.pendingCR) {
			return errBareLF
		}
		f.pendingCR = false
	} else {
		f.pendingCR = endsCR
	}
	if endsCR {
		seg = seg[:len(seg)-1]
	}
	if room := lineCap - len(f.line); room > 0 {
		f.line = append(f.line, seg[:min(room, len(seg))]...)
	}
	f.lineLen += len(seg)
	return nil
}

// endLine handles a complete line of the start line / header section.
func (f *framer) endLine(lens *[]int) error {
	line, full := f.line, f.lineLen
	f.line, f.lineLen = f.line[:0], 0
	switch {
	case f.startLine:
		f.startLine = false
	case full == 0: // the empty line: end of the header section
		if err := f.endHeader(); err != nil {
			return err
		}
		if f.cl < 0 {
			return errNoContentLength
		}
		if int64(f.n)+f.cl > int64(f.max) {
			return errStreamTooLarge
		}
		if f.cl == 0 {
			f.done(lens)
		} else {
			f.state, f.body = frBody, f.cl
		}
	case line[0] == ' ' || line[0] == '\t': // folded continuation
		if f.inCL {
			if full > lineCap || len(f.clVal) > lineCap {
				return errBadContentLength
			}
			f.clVal = append(f.clVal, ' ')
			f.clVal = append(f.clVal, line...)
		}
	default:
		if err := f.endHeader(); err != nil {
			return err
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			return nil // sipgo refuses the line and closes
		}
		name := bytes.Trim(line[:colon], " \t")
		if bytes.EqualFold(name, []byte("content-length")) || bytes.EqualFold(name, []byte("l")) {
			if full > lineCap {
				return errBadContentLength
			}
			f.inCL = true
			f.clVal = append(f.clVal[:0], line[colon+1:]...)
		}
	}
	return nil
}

// endHeader finishes the header being read when it is Content-Length.
func (f *framer) endHeader() error {
	if !f.inCL {
		return nil
	}
	f.inCL = false
	v := bytes.Trim(f.clVal, " \t")
	if len(v) == 0 {
		return errBadContentLength
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return errBadContentLength
		}
	}
	n, err := strconv.ParseUint(string(v), 10, 32)
	if err != nil {
		return errBadContentLength
	}
	if f.cl >= 0 {
		return errDupContentLength
	}
	f.cl = int64(n)
	return nil
}

func (f *framer) done(lens *[]int) {
	*lens = append(*lens, f.n)
	f.state, f.n, f.cl, f.body, f.inCL, f.pendingCR = frStart, 0, -1, 0, false, false
	f.line, f.lineLen = f.line[:0], 0
}
