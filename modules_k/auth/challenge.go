package auth

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/digest"
	"sip-router.org/core/digest/nonce"
	"sip-router.org/core/module"
	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
)

// intArg is an argument that is a number or yields one at run time.
type intArg struct {
	n int
	f sr.Format
}

func (a intArg) value(c *sr.Ctx) (int, bool) {
	if a.f == nil {
		return a.n, true
	}
	n, err := strconv.Atoi(strings.TrimSpace(a.f.Expand(c)))
	return n, err == nil
}

func fixupFlags(fx *module.Fixup, a module.Arg) (intArg, error) {
	if a.Kind == module.ArgPV || (a.Kind == module.ArgStr && strings.Contains(a.S, "$")) {
		f, err := fx.Format(a)
		return intArg{f: f}, err
	}
	n, err := fx.Int(a)
	if err != nil {
		return intArg{}, err
	}
	if n < 0 {
		return intArg{}, fx.Errorf(a, "%s: flags %d must not be negative", fx.Func, n)
	}
	return intArg{n: n}, nil
}

// fixupChallenge prepares (realm, flags): a realm with pseudo-variables
// ("" = the To/From host) and flags (Kamailio 3.0's qop "0"/"1" are flags
// 0 and 1).
func fixupChallenge(_ *Auth, fx *module.Fixup, args []module.Arg) ([]any, error) {
	realm, err := fx.Format(args[0])
	if err != nil {
		return nil, err
	}
	flags, err := fixupFlags(fx, args[1])
	if err != nil {
		return nil, err
	}
	return []any{realm, flags}, nil
}

func fixupRealm(_ *Auth, fx *module.Fixup, args []module.Arg) ([]any, error) {
	realm, err := fx.Format(args[0])
	if err != nil {
		return nil, err
	}
	return []any{realm}, nil
}

func (a *Auth) wwwChallenge(c *sr.Ctx, p []any) int   { return a.challengeCall(c, p, WWW) }
func (a *Auth) proxyChallenge(c *sr.Ctx, p []any) int { return a.challengeCall(c, p, Proxy) }

// authChallenge is auth_challenge(realm, flags): 401 for REGISTER, 407
// for the other requests.
func (a *Auth) authChallenge(c *sr.Ctx, p []any) int {
	return a.challengeCall(c, p, KindFor(c.Req))
}

func (a *Auth) challengeCall(c *sr.Ctx, p []any, k HeaderKind) int {
	flags, ok := p[1].(intArg).value(c)
	if !ok {
		c.Log.Error("auth: challenge flags do not evaluate to a number")
		return -1
	}
	return a.Challenge(c, p[0].(sr.Format).Expand(c), k, flags)
}

// Challenge sends a 401 (WWW) or 407 (Proxy) with a fresh nonce for realm
// ("" = Realm(c, k)): through the transaction when the request has one
// (t_newtran, so its retransmissions get the same reply), statelessly
// otherwise. flags are FlagQOPAuth, FlagQOPAuthInt, FlagNo500 and
// FlagStale; stale=true is also said when PreAuth found the nonce stale.
// It returns 0, which ends the script, as Kamailio does after replying;
// -1 when the challenge could not be sent (then, unless FlagNo500, a 500
// is tried).
func (a *Auth) Challenge(c *sr.Ctx, realm string, k HeaderKind, flags int) int {
	if c.Req == nil {
		return -1
	}
	if c.Req.Method == sip.ACK || c.Req.Method == sip.CANCEL {
		c.Log.Error("auth: an ACK or a CANCEL cannot be challenged", "method", string(c.Req.Method))
		return -1
	}
	if realm == "" {
		realm = a.Realm(c, k)
	}
	if realm == "" {
		c.Log.Error("auth: no realm for the challenge (no host in To/From)")
		return a.failed(c, flags)
	}
	stale := flags&FlagStale != 0 || getState(c).stale[k]
	line := k.Challenge() + ": " + a.ChallengeValue(c, realm, flags, stale)
	code, reason := k.Reply()
	if err := a.send(c, code, reason, line); err != nil {
		c.Log.Error("auth: sending the challenge failed", "code", code, "error", err)
		return a.failed(c, flags)
	}
	return 0
}

// ChallengeValue builds the value of a WWW-/Proxy-Authenticate header
// with a new nonce: Digest realm="…", nonce="…"[, stale=true][,
// qop="…"], algorithm=MD5. Its parameters, their order and the nonce's
// length depend only on realm, flags and stale.
func (a *Auth) ChallengeValue(c *sr.Ctx, realm string, flags int, stale bool) string {
	checks := nonce.For(c, nonce.Checks(a.ChecksRegister), nonce.Checks(a.ChecksInDlg), nonce.Checks(a.ChecksNoDlg))
	var b strings.Builder
	b.WriteString(`Digest realm="`)
	b.WriteString(digest.Quote(realm))
	b.WriteString(`", nonce="`)
	b.WriteString(a.guard.Nonces.Issue(c, checks))
	b.WriteByte('"')
	if stale {
		b.WriteString(", stale=true")
	}
	switch (flags | a.qopFlags) & (FlagQOPAuth | FlagQOPAuthInt) {
	case FlagQOPAuth:
		b.WriteString(`, qop="auth"`)
	case FlagQOPAuthInt:
		b.WriteString(`, qop="auth-int"`)
	case FlagQOPAuth | FlagQOPAuthInt:
		b.WriteString(`, qop="auth,auth-int"`)
	}
	b.WriteString(", algorithm=MD5")
	return b.String()
}

// send replies with an extra header line: statefully when the request
// has a transaction, through sl otherwise.
func (a *Auth) send(c *sr.Ctx, code int, reason, line string) error {
	if tx := c.Tx(); tx != nil {
		saved := c.ReplyHeaders
		c.ReplyHeaders = append(append([]string(nil), saved...), line+"\r\n")
		err := tx.Reply(c, code, reason)
		c.ReplyHeaders = saved
		if err != nil {
			return fmt.Errorf("stateful %d: %w", code, err)
		}
		return nil
	}
	if a.sl == nil {
		return fmt.Errorf("module sl is not initialised")
	}
	if line == "" {
		return a.sl.StatelessReply(c, code, reason)
	}
	return a.sl.StatelessReply(c, code, reason, line)
}

func (a *Auth) failed(c *sr.Ctx, flags int) int {
	if flags&FlagNo500 == 0 {
		if err := a.send(c, 500, "Internal Server Error", ""); err != nil {
			c.Log.Error("auth: sending 500 failed", "error", err)
		}
	}
	return -1
}

// consumeCredentials is consume_credentials(): it removes the
// credentials header the request was authorized with, so it is not
// forwarded. -1 when no authorization succeeded on the request.
func (a *Auth) consumeCredentials(c *sr.Ctx, _ []any) int {
	au := digest.GetAuthorized(c)
	if au == nil || c.Req == nil {
		c.Log.Error("auth: consume_credentials: no authorized credentials (call www_authorize or proxy_authorize first)")
		return -1
	}
	if !digest.RemoveHeader(c.Req, au.Header, au.Value) {
		return -1
	}
	return 1
}

// hasCredentials is has_credentials(realm): 1 when an Authorization or
// Proxy-Authorization header parses and names the realm.
func (a *Auth) hasCredentials(c *sr.Ctx, p []any) int {
	if c.Req == nil {
		return -1
	}
	realm := p[0].(sr.Format).Expand(c)
	for _, k := range []HeaderKind{WWW, Proxy} {
		for _, h := range sipmsg.Headers(c.Req, k.Credentials()) {
			if d, err := digest.Parse(h.Value()); err == nil && strings.EqualFold(d.Realm, realm) {
				return 1
			}
		}
	}
	return -1
}
