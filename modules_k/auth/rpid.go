package auth

import (
	"strings"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/module"
	"sip-router.org/core/sr"
)

// fixupRPID prepares append_rpid_hf's optional (prefix, suffix).
func fixupRPID(_ *Auth, fx *module.Fixup, args []module.Arg) ([]any, error) {
	if len(args) == 0 {
		return nil, nil
	}
	out := make([]any, 2)
	for i := range 2 {
		f, err := fx.Format(args[i])
		if err != nil {
			return nil, err
		}
		out[i] = f
	}
	return out, nil
}

// rpidValue reads the RPID the auth_db load_credentials put in rpid_avp.
func (a *Auth) rpidValue(c *sr.Ctx) (string, bool) {
	if a.rpid == nil {
		return "", false
	}
	v := a.rpid.Get(c)
	if v.IsNull() || v.Text() == "" {
		return "", false
	}
	return v.Text(), true
}

// appendRPID is append_rpid_hf([prefix, suffix]): it appends
// "Remote-Party-ID: <prefix><rpid><suffix>" to the request, with the
// module's rpid_prefix and rpid_suffix when none are given. -1 when the
// RPID AVP is not set.
func (a *Auth) appendRPID(c *sr.Ctx, p []any) int {
	if c.Req == nil {
		return -1
	}
	rpid, ok := a.rpidValue(c)
	if !ok {
		c.Log.Debug("auth: append_rpid_hf: no RPID AVP")
		return -1
	}
	prefix, suffix := a.RPIDPrefix, a.RPIDSuffix
	if len(p) == 2 {
		prefix, suffix = p[0].(sr.Format).Expand(c), p[1].(sr.Format).Expand(c)
	}
	val := prefix + rpid + suffix
	if strings.ContainsAny(val, "\r\n\x00") {
		c.Log.Error("auth: append_rpid_hf: the RPID holds a line break")
		return -1
	}
	c.Req.AppendHeader(sip.NewHeader("Remote-Party-ID", val))
	return 1
}

// isRPIDE164 is is_rpid_user_e164(): 1 when the user part of the URI in
// the RPID AVP is an E.164 number: '+' and 2 to 15 digits.
func (a *Auth) isRPIDE164(c *sr.Ctx, _ []any) int {
	rpid, ok := a.rpidValue(c)
	if !ok {
		return -1
	}
	if isE164(rpidUser(rpid)) {
		return 1
	}
	return -1
}

// rpidUser extracts the user part of the URI of an RPID value, which may
// be a name-addr ("Alice" <sip:+123@h>;party=calling) or a bare URI.
func rpidUser(v string) string {
	if i := strings.IndexByte(v, '<'); i >= 0 {
		v = v[i+1:]
		if j := strings.IndexByte(v, '>'); j >= 0 {
			v = v[:j]
		}
	}
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, ':'); i >= 0 {
		v = v[i+1:]
	}
	at := strings.IndexByte(v, '@')
	if at < 0 {
		return ""
	}
	user := v[:at]
	if i := strings.IndexByte(user, ';'); i >= 0 { // user parameters
		user = user[:i]
	}
	return user
}

func isE164(s string) bool {
	if len(s) < 3 || len(s) > 16 || s[0] != '+' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
