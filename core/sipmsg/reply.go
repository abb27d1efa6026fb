package sipmsg

import (
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// MagicCookie starts every RFC 3261 branch.
const MagicCookie = "z9hG4bK"

// NewReply builds a stateless reply to req per RFC 3261 §8.2.6: every Via
// in order, From, To, Call-ID and CSeq copied (the first of each when the
// request repeats them), Timestamp copied into a 100, no Contact, no body
// (Content-Length: 0). When code > 100 and the To has no tag, toTag is
// added, or ToTag(req) when toTag is empty. The request is not modified.
//
// The caller applies AddReceived to req before, so that the reply's top
// Via carries received/rport.
func NewReply(req *sip.Request, code int, reason string, toTag string) *sip.Response {
	res := sip.NewResponse(code, reason)
	var from, to, callID, cseq sip.Header
	var ts []sip.Header
	for _, h := range req.Headers() {
		switch h.(type) {
		case *sip.ViaHeader:
			res.AppendHeader(sip.HeaderClone(h))
		case *sip.FromHeader:
			if from == nil {
				from = h
			}
		case *sip.ToHeader:
			if to == nil {
				to = h
			}
		case *sip.CallIDHeader:
			if callID == nil {
				callID = h
			}
		case *sip.CSeqHeader:
			if cseq == nil {
				cseq = h
			}
		default:
			if code == 100 && Canonical(h.Name()) == "timestamp" {
				ts = append(ts, h)
			}
		}
	}
	if from != nil {
		res.AppendHeader(sip.HeaderClone(from))
	}
	if to != nil {
		t := sip.HeaderClone(to).(*sip.ToHeader)
		if code > 100 && !t.Params.Has("tag") {
			if toTag == "" {
				toTag = ToTag(req)
			}
			t.Params.Add("tag", toTag)
		}
		res.AppendHeader(t)
	}
	if callID != nil {
		res.AppendHeader(sip.HeaderClone(callID))
	}
	if cseq != nil {
		c := sip.HeaderClone(cseq).(*sip.CSeqHeader)
		c.MethodName = sip.RequestMethod(trimLWS(string(c.MethodName)))
		res.AppendHeader(c)
	}
	for _, h := range ts {
		res.AppendHeader(sip.NewHeader("Timestamp", h.Value()))
	}
	res.SetBody(nil)
	return res
}

// ToTag returns the To tag this server puts in stateless replies to req:
// a hash of the From tag, Call-ID, CSeq number and top Via branch, so that
// a retransmission gets the same tag (as Kamailio's sl module does).
func ToTag(req *sip.Request) string {
	var fromTag, callID, branch string
	var cseq uint32
	if f := req.From(); f != nil {
		fromTag, _ = f.Params.Get("tag")
	}
	if c := req.CallID(); c != nil {
		callID = string(*c)
	}
	if c := req.CSeq(); c != nil {
		cseq = c.SeqNo
	}
	if v := req.Via(); v != nil {
		branch, _ = v.Params.Get("branch")
	}
	return toTag(fromTag, callID, strconv.FormatUint(uint64(cseq), 10), branch)
}

func toTag(fromTag, callID, cseq, branch string) string {
	h := newHash()
	h.add(fromTag)
	h.add(callID)
	h.add(cseq)
	h.add(branch)
	return strconv.FormatUint(uint64(h), 16)
}

// hash64 is FNV-1a over a sequence of strings, each followed by a NUL so
// that ("ab","c") and ("a","bc") differ. It does not allocate.
type hash64 uint64

func newHash() hash64 { return 14695981039346656037 }

func (h *hash64) add(s string) {
	const prime = 1099511628211
	x := *h
	for i := 0; i < len(s); i++ {
		x ^= hash64(s[i])
		x *= prime
	}
	x *= prime // the NUL separator: x ^= 0 is a no-op
	*h = x
}

// Branch returns a deterministic branch for forwarding req statelessly
// (RFC 3261 §16.11): the magic cookie followed by a hash of salt and the
// incoming top Via branch when that has the magic cookie and something
// after it. For RFC 2543 requests (no such branch, RFC 4475 badbranch and
// inv2543) the hash covers the To tag (except for ACK, whose To tag comes
// from the reply), the From tag, Call-ID, CSeq number (not the method, so
// that a CANCEL gets its INVITE's branch), Request-URI and top Via sent-by.
// salt tells apart several branches of one request (e.g. the outgoing
// socket and branch index).
func Branch(req *sip.Request, salt string) string {
	h := newHash()
	w := h.add
	w(salt)
	via := req.Via()
	if via != nil {
		if b, ok := via.Params.Get("branch"); ok && len(b) > len(MagicCookie) && strings.HasPrefix(b, MagicCookie) {
			w("3261")
			w(b)
			return MagicCookie + strconv.FormatUint(uint64(h), 16)
		}
	}
	w("2543")
	if t := req.To(); t != nil && req.Method != sip.ACK {
		tag, _ := t.Params.Get("tag")
		w(tag)
	} else {
		w("")
	}
	if f := req.From(); f != nil {
		tag, _ := f.Params.Get("tag")
		w(tag)
	} else {
		w("")
	}
	if c := req.CallID(); c != nil {
		w(string(*c))
	} else {
		w("")
	}
	if c := req.CSeq(); c != nil {
		w(strconv.FormatUint(uint64(c.SeqNo), 10))
	} else {
		w("")
	}
	w(req.Recipient.String())
	if via != nil {
		w(via.Host)
		w(strconv.Itoa(via.Port))
	}
	return MagicCookie + strconv.FormatUint(uint64(h), 16)
}

// CSeqMethod returns the CSeq method of msg without surrounding blanks
// (sipgo's own CSeq parser keeps the extra blanks of "CSeq: 1   INVITE";
// NewParser's does not), or "" when there is no CSeq.
func CSeqMethod(msg sip.Message) string {
	if msg == nil {
		return ""
	}
	c := msg.CSeq()
	if c == nil {
		return ""
	}
	return trimLWS(string(c.MethodName))
}

// MaxForwards returns the value of the first Max-Forwards header of req
// and whether there is one.
func MaxForwards(req *sip.Request) (int, bool) {
	if req == nil {
		return 0, false
	}
	for _, h := range req.Headers() {
		if mf, ok := h.(*sip.MaxForwardsHeader); ok {
			return int(*mf), true
		}
	}
	return 0, false
}
