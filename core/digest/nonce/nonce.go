// Package nonce makes and checks the nonces of digest challenges, for
// both auth modules (modules_k/auth and modules_s/auth): they differ in
// their parameters (defaults, which parts of a request a nonce is bound
// to, the size of the replay table), not in how nonces work.
//
// Nonces are stateless to validate: an HMAC keyed by the secret covers
// their issue and expiry times, a random id and an optional binding to
// parts of the request (Checks). Replays are refused with a bounded table
// of the nonces issued: with qop the nonce count must strictly increase,
// without qop a nonce is good once.
package nonce

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"hash"
	"io"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
)

// A nonce is 41 bytes, base64url-encoded without padding (55
// characters), so the server needs no state to validate it:
//
//	0..3   issue time, Unix seconds
//	4..7   expiry time, Unix seconds
//	8..15  random id (the key of the nonce table)
//	16     the check bits it is bound with (Checks)
//	17..24 binding: a keyed hash of the message parts those bits select
//	25..40 HMAC-SHA-256 of bytes 0..24 with the secret, cut to 16 bytes
//
// Every nonce has this length and shape whatever the request, the user
// or the options, so nonces tell nothing about who asked.
const (
	rawLen = 41
	// Len is the length of every nonce.
	Len    = 55
	macOff = 25
)

// Checks are the message parts a nonce is bound to: a nonce presented
// with another value of one of them is stale.
type Checks uint8

// The parts: the auth_checks_* bits of both auth modules (1 R-URI, 2
// Call-ID, 4 From tag, 8 source IP), and the Contact headers of a
// REGISTER (SER's protect_contacts).
const (
	RURI     Checks = 1
	CallID   Checks = 2
	FromTag  Checks = 4
	SrcIP    Checks = 8
	Contacts Checks = 16

	allChecks = RURI | CallID | FromTag | SrcIP | Contacts
)

// For returns the checks that apply to the request of c: register for a
// REGISTER, inDialog for a request with a To tag, noDialog otherwise (the
// auth_checks_register, auth_checks_in_dlg and auth_checks_no_dlg
// parameters).
func For(c *sr.Ctx, register, inDialog, noDialog Checks) Checks {
	req := c.Req
	if req == nil {
		return 0
	}
	var v Checks
	switch {
	case req.Method == sip.REGISTER:
		v = register
	case hasToTag(req):
		v = inDialog
	default:
		v = noDialog
	}
	return v & allChecks
}

func hasToTag(req *sip.Request) bool {
	to := req.To()
	if to == nil {
		return false
	}
	tag, ok := to.Params.Get("tag")
	return ok && tag != ""
}

// Result is the outcome of Check.
type Result uint8

// Results.
const (
	// OK: the nonce is good for this use.
	OK Result = iota
	// Stale: it expired, was replayed, was forgotten by the table, or
	// was issued for another request (Checks); the client may retry with
	// a new one without asking its user (stale=true).
	Stale
	// Invalid: this server did not issue it (forged, edited, another
	// secret) or its issue time is too far in the future.
	Invalid
)

// Config are the parameters of a set of nonces.
type Config struct {
	// Secret keys the HMAC. Empty: a random secret, so nonces issued
	// before a restart are refused (as stale).
	Secret []byte
	// Label tells the keys of one product from another's: nonces issued
	// with one label are invalid with another, whatever the secret.
	Label string
	// Expire is a nonce's lifetime (whole seconds count).
	Expire time.Duration
	// MaxDrift is how far in the future a nonce's issue time may be
	// (servers sharing a secret with clocks apart).
	MaxDrift time.Duration
	// TableSize bounds the table of nonces issued (entries). 0: no table,
	// a nonce may be reused until it expires.
	TableSize int
	// NonceCount requires, with qop, a strictly increasing nonce count.
	NonceCount bool
	// OneTime accepts a nonce once when the credentials carry no qop.
	OneTime bool
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Nonces issues and checks nonces. It is safe for concurrent use.
type Nonces struct {
	mac, bind  keyedHash
	expire     int64
	maxDrift   int64
	nonceCount bool
	oneTime    bool
	table      *table // nil when nonces may be reused
	now        func() time.Time
}

// New returns a set of nonces with the configuration cfg.
func New(cfg Config) *Nonces {
	secret := cfg.Secret
	if len(secret) == 0 {
		secret = RandomBytes(32)
	}
	d := func(label string) []byte {
		h := hmac.New(sha256.New, secret)
		h.Write([]byte(label))
		return h.Sum(nil)
	}
	n := &Nonces{
		mac: newKeyedHash(d(cfg.Label + " nonce mac")), bind: newKeyedHash(d(cfg.Label + " nonce binding")),
		expire: int64(cfg.Expire / time.Second), maxDrift: int64(cfg.MaxDrift / time.Second),
		nonceCount: cfg.NonceCount, oneTime: cfg.OneTime, now: cfg.Now,
	}
	if n.now == nil {
		n.now = time.Now
	}
	if cfg.TableSize > 0 {
		n.table = newTable(cfg.TableSize)
	}
	return n
}

// RandomBytes returns n random bytes.
func RandomBytes(n int) []byte {
	b := make([]byte, n)
	// Since Go 1.24, crypto/rand.Read never returns an error (it ends
	// the program when the system has no randomness).
	_, _ = rand.Read(b)
	return b
}

// info is what a nonce holds.
type info struct {
	issued, expires int64
	id              uint64
	checks          Checks
	bind            [8]byte
}

// Issue returns a new nonce for the request of c, bound to the parts
// checks selects, and records it in the table of nonces.
func (n *Nonces) Issue(c *sr.Ctx, checks Checks) string {
	s, ni := n.make(c, checks)
	if n.table != nil {
		n.table.add(ni.id)
	}
	return s
}

// make builds a nonce issued now, without recording it.
func (n *Nonces) make(c *sr.Ctx, checks Checks) (string, info) {
	now := n.now().Unix()
	var raw [rawLen]byte
	ni := info{issued: now, expires: now + n.expire, checks: checks & allChecks}
	binary.BigEndian.PutUint32(raw[0:4], uint32(ni.issued))
	binary.BigEndian.PutUint32(raw[4:8], uint32(ni.expires))
	_, _ = rand.Read(raw[8:16]) // never fails since Go 1.24
	ni.id = binary.BigEndian.Uint64(raw[8:16])
	raw[16] = byte(ni.checks)
	ni.bind = n.binding(c, ni.checks)
	copy(raw[17:25], ni.bind[:])
	var sum [sha256.Size]byte
	n.mac.sum(sum[:0], raw[:macOff])
	copy(raw[macOff:], sum[:])
	return base64.RawURLEncoding.EncodeToString(raw[:]), ni
}

// parse decodes a nonce and checks its HMAC; false for anything this
// server did not issue with its current secret (forged, edited,
// truncated).
func (n *Nonces) parse(s string) (info, bool) {
	var ni info
	if len(s) != Len {
		return ni, false
	}
	var raw [rawLen]byte
	l, err := base64.RawURLEncoding.Strict().Decode(raw[:], []byte(s))
	if err != nil || l != rawLen {
		return ni, false
	}
	var sum [sha256.Size]byte
	n.mac.sum(sum[:0], raw[:macOff])
	if !hmac.Equal(sum[:rawLen-macOff], raw[macOff:]) {
		return ni, false
	}
	ni.issued = int64(binary.BigEndian.Uint32(raw[0:4]))
	ni.expires = int64(binary.BigEndian.Uint32(raw[4:8]))
	ni.id = binary.BigEndian.Uint64(raw[8:16])
	ni.checks = Checks(raw[16])
	copy(ni.bind[:], raw[17:25])
	return ni, true
}

// Check validates a nonce presented with credentials for the request of
// c: its HMAC, issue time, expiry and binding, and whether the table of
// nonces accepts this use — with qop (the credentials carry one) the
// nonce count nc must be above every count seen with it (when
// Config.NonceCount), without qop the nonce must be unused (when
// Config.OneTime). commit records the use when it is accepted; the
// check and the record are one step, so two copies of a request racing
// each other cannot both pass.
func (n *Nonces) Check(c *sr.Ctx, nonce string, qop bool, nc uint32, commit bool) Result {
	ni, ok := n.parse(nonce)
	if !ok {
		c.Log.Debug("auth: nonce not issued by this server")
		return Invalid
	}
	now := n.now().Unix()
	if ni.issued > now+n.maxDrift {
		c.Log.Debug("auth: nonce issued in the future")
		return Invalid
	}
	if now > ni.expires {
		c.Log.Debug("auth: nonce expired")
		return Stale
	}
	if ni.checks != 0 && n.binding(c, ni.checks) != ni.bind {
		c.Log.Debug("auth: nonce issued for another request (auth checks)", "checks", ni.checks)
		return Stale
	}
	if n.table == nil {
		return OK
	}
	useNC := n.nonceCount && qop
	if !useNC && !n.oneTime {
		return OK
	}
	switch n.table.check(ni.id, useNC, nc, commit) {
	case forgotten:
		c.Log.Debug("auth: nonce unknown to the nonce table (too old, or issued before a restart)")
		return Stale
	case replay:
		c.Log.Debug("auth: nonce reused", "nc", useNC)
		return Stale
	}
	return OK
}

// binding hashes the message parts that checks selects, keyed so that the
// nonce does not reveal them.
func (n *Nonces) binding(c *sr.Ctx, checks Checks) [8]byte {
	var out [8]byte
	if checks == 0 || c.Req == nil {
		return out
	}
	h := n.bind.get()
	defer n.bind.put(h)
	h.Write([]byte{byte(checks)})
	part := func(s string) {
		var l [4]byte
		binary.BigEndian.PutUint32(l[:], uint32(len(s)))
		h.Write(l[:])
		io.WriteString(h, s)
	}
	req := c.Req
	if checks&RURI != 0 {
		if c.OrigRURI != "" {
			part(c.OrigRURI)
		} else {
			part(req.Recipient.String())
		}
	}
	if checks&CallID != 0 {
		if cid := req.CallID(); cid != nil {
			part(cid.Value())
		} else {
			part("")
		}
	}
	if checks&FromTag != 0 {
		tag := ""
		if f := req.From(); f != nil {
			tag, _ = f.Params.Get("tag")
		}
		part(tag)
	}
	if checks&SrcIP != 0 {
		part(c.Rcv.Src.Addr().Unmap().String())
	}
	if checks&Contacts != 0 {
		for _, ct := range sipmsg.Headers(req, "Contact") {
			part(ct.Value())
		}
	}
	var sum [sha256.Size]byte
	copy(out[:], h.Sum(sum[:0]))
	return out
}

// keyedHash hands out HMAC-SHA256 states for one key from a pool: making
// one costs two SHA-256 states and the padded key, on every challenge
// and every authenticated request otherwise.
type keyedHash struct{ pool *sync.Pool }

func newKeyedHash(key []byte) keyedHash {
	return keyedHash{pool: &sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}
}

// get returns a reset HMAC state; put returns it to the pool.
func (k keyedHash) get() hash.Hash {
	h := k.pool.Get().(hash.Hash)
	h.Reset()
	return h
}

func (k keyedHash) put(h hash.Hash) { k.pool.Put(h) }

// sum appends the HMAC of data to dst.
func (k keyedHash) sum(dst, data []byte) []byte {
	h := k.get()
	h.Write(data)
	dst = h.Sum(dst)
	k.put(h)
	return dst
}
