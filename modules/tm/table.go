package tm

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
)

// nShards is the number of independently locked parts of the
// transaction table.
const nShards = 64

// table holds the live transactions, twice indexed: by the server-side
// matching key of their request (RFC 3261 §17.2.3, or the RFC 2543
// fallback) and by the id our branches carry in their Via (replies).
//
// Lock order: a transaction's mutex may be held while a shard mutex is
// taken (insertion, deletion); a shard mutex is never held while a
// transaction's mutex is taken. Lookups copy the pointer out under the
// shard lock and lock the transaction afterwards, then check tx.dead.
type table struct {
	byKey [nShards]keyShard
	byID  [nShards]idShard
	live  atomic.Int64
}

type keyShard struct {
	mu sync.Mutex
	m  map[string]*Tx
}

type idShard struct {
	mu sync.Mutex
	m  map[uint64]*Tx
}

func newTable() *table {
	t := &table{}
	for i := range t.byKey {
		t.byKey[i].m = make(map[string]*Tx)
		t.byID[i].m = make(map[uint64]*Tx)
	}
	return t
}

func keyHash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

func (t *table) keyShard(key string) *keyShard { return &t.byKey[keyHash(key)%nShards] }
func (t *table) idShard(id uint64) *idShard    { return &t.byID[(id^id>>32)%nShards] }

// get returns the transaction with that server key, or nil.
func (t *table) get(key string) *Tx {
	s := t.keyShard(key)
	s.mu.Lock()
	tx := s.m[key]
	s.mu.Unlock()
	return tx
}

// getID returns the transaction with that id, or nil.
func (t *table) getID(id uint64) *Tx {
	s := t.idShard(id)
	s.mu.Lock()
	tx := s.m[id]
	s.mu.Unlock()
	return tx
}

// insert adds tx under its key and id unless another transaction already
// holds the key, which it then returns.
func (t *table) insert(tx *Tx) *Tx {
	s := t.keyShard(tx.key)
	s.mu.Lock()
	if old := s.m[tx.key]; old != nil {
		s.mu.Unlock()
		return old
	}
	s.m[tx.key] = tx
	s.mu.Unlock()
	is := t.idShard(tx.id)
	is.mu.Lock()
	is.m[tx.id] = tx
	is.mu.Unlock()
	t.live.Add(1)
	return nil
}

// putAlias indexes tx under a second key too, unless another
// transaction holds it.
func (t *table) putAlias(key string, tx *Tx) bool {
	s := t.keyShard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[key] != nil {
		return false
	}
	s.m[key] = tx
	return true
}

// remove takes tx out of every index.
func (t *table) remove(tx *Tx) {
	for _, k := range []string{tx.key, tx.alias} {
		if k == "" {
			continue
		}
		s := t.keyShard(k)
		s.mu.Lock()
		if s.m[k] == tx {
			delete(s.m, k)
		}
		s.mu.Unlock()
	}
	is := t.idShard(tx.id)
	is.mu.Lock()
	found := is.m[tx.id] == tx
	if found {
		delete(is.m, tx.id)
	}
	is.mu.Unlock()
	if found {
		t.live.Add(-1)
	}
}

// each calls fn for every transaction until it returns false. The shard
// is not locked while fn runs.
func (t *table) each(fn func(tx *Tx) bool) {
	var batch []*Tx
	for i := range t.byID {
		s := &t.byID[i]
		s.mu.Lock()
		batch = batch[:0]
		for _, tx := range s.m {
			batch = append(batch, tx)
		}
		s.mu.Unlock()
		for _, tx := range batch {
			if !fn(tx) {
				return
			}
		}
	}
}

// clear forgets every transaction (shutdown).
func (t *table) clear() []*Tx {
	var all []*Tx
	for i := range t.byID {
		s := &t.byID[i]
		s.mu.Lock()
		for _, tx := range s.m {
			all = append(all, tx)
		}
		s.m = make(map[uint64]*Tx)
		s.mu.Unlock()
		k := &t.byKey[i]
		k.mu.Lock()
		k.m = make(map[string]*Tx)
		k.mu.Unlock()
	}
	t.live.Store(0)
	return all
}

// isRFC3261Branch reports whether a Via branch carries the magic cookie
// and something after it.
func isRFC3261Branch(b string) bool {
	return len(b) > len(sipmsg.MagicCookie) && strings.HasPrefix(b, sipmsg.MagicCookie)
}

// reqKey is the server-transaction matching key of a request and its
// method as a transaction method (RFC 3261 §17.2.3): branch, sent-by and
// method, the method of an ACK being INVITE; a CANCEL has its own key. A
// request whose top Via branch lacks the magic cookie (RFC 2543) gets a
// key from the Call-ID, CSeq number, From tag, Request-URI, top Via and
// method; the To tag is compared apart (toTagMatches). ok is false when
// the request lacks what a key needs (top Via, CSeq).
type reqKey struct {
	key     string
	rfc2543 bool
}

// serverKey computes the key of req as if its method were method ("" for
// its own; ACK maps to INVITE).
func serverKey(req *sip.Request, method string) (reqKey, bool) {
	if req == nil {
		return reqKey{}, false
	}
	via := req.Via()
	cseq := req.CSeq()
	if via == nil || cseq == nil {
		return reqKey{}, false
	}
	if method == "" {
		method = string(req.Method)
	}
	if method == string(sip.ACK) {
		method = string(sip.INVITE)
	}
	branch, _ := via.Params.Get("branch")
	var b strings.Builder
	if isRFC3261Branch(branch) {
		port := via.Port
		if port <= 0 {
			port = sipmsg.DefaultPort(via.Transport)
		}
		b.Grow(len(branch) + len(via.Host) + len(method) + 12)
		b.WriteString("1|")
		b.WriteString(branch)
		b.WriteByte('|')
		b.WriteString(strings.ToLower(via.Host))
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(port))
		b.WriteByte('|')
		b.WriteString(method)
		return reqKey{key: b.String()}, true
	}
	var callID, fromTag string
	if c := req.CallID(); c != nil {
		callID = string(*c)
	}
	if f := req.From(); f != nil {
		fromTag, _ = f.Params.Get("tag")
	}
	b.WriteString("0|")
	b.WriteString(callID)
	b.WriteByte('|')
	b.WriteString(strconv.FormatUint(uint64(cseq.SeqNo), 10))
	b.WriteByte('|')
	b.WriteString(fromTag)
	b.WriteByte('|')
	b.WriteString(req.Recipient.String())
	b.WriteByte('|')
	b.WriteString(strings.ToLower(via.Host))
	b.WriteByte(':')
	b.WriteString(strconv.Itoa(via.Port))
	b.WriteByte(';')
	b.WriteString(branch)
	b.WriteByte('|')
	b.WriteString(method)
	return reqKey{key: b.String(), rfc2543: true}, true
}

// dialogKey keys an INVITE transaction by Call-ID, CSeq number and From
// tag, so that the end-to-end ACK of its 2xx (a new branch) finds it, as
// Kamailio's t_check_trans does.
func dialogKey(req *sip.Request) (string, bool) {
	callID, cseq := req.CallID(), req.CSeq()
	if callID == nil || cseq == nil {
		return "", false
	}
	var fromTag string
	if f := req.From(); f != nil {
		fromTag, _ = f.Params.Get("tag")
	}
	return "d|" + string(*callID) + "|" + strconv.FormatUint(uint64(cseq.SeqNo), 10) + "|" + fromTag, true
}

// toTag returns the To tag of a message, "" when it has none.
func toTag(m sip.Message) string {
	if m == nil {
		return ""
	}
	if to := m.To(); to != nil {
		tag, _ := to.Params.Get("tag")
		return tag
	}
	return ""
}

// branchValue is the Via branch of branch idx of transaction id: the magic
// cookie, a marker, the id in hex and the index, so a reply names its
// transaction and branch without a search.
func branchValue(id uint64, idx int) string {
	var buf [48]byte
	b := append(buf[:0], sipmsg.MagicCookie...)
	b = append(b, "Tm"...)
	b = strconv.AppendUint(b, id, 16)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(idx), 10)
	return string(b)
}

// parseBranch reads back what branchValue wrote.
func parseBranch(v string) (id uint64, idx int, ok bool) {
	const prefix = sipmsg.MagicCookie + "Tm"
	rest, found := strings.CutPrefix(v, prefix)
	if !found {
		return 0, 0, false
	}
	hexID, num, found := strings.Cut(rest, ".")
	if !found || hexID == "" || num == "" || len(hexID) > 16 || len(num) > 4 {
		return 0, 0, false
	}
	id, err := strconv.ParseUint(hexID, 16, 64)
	if err != nil {
		return 0, 0, false
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 {
		return 0, 0, false
	}
	return id, n, true
}
