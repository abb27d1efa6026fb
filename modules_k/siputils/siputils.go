// Package siputils is Kamailio's siputils module: small tests and edits of
// SIP messages (has_totag, is_user, uri_param, add_uri_param,
// is_uri_user_e164, cmp_uri, cmp_aor, tel2sip, is_request, is_reply) and
// the answer to OPTIONS sent to the server itself (options_reply).
package siputils

import (
	"errors"
	"strings"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/module"
	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
)

type siputils struct {
	OptionsAccept         string `modparam:"options_accept"`
	OptionsAcceptEncoding string `modparam:"options_accept_encoding"`
	OptionsAcceptLanguage string `modparam:"options_accept_language"`
	OptionsSupport        string `modparam:"options_support"`

	sl slAPI
}

// slAPI is what this module needs from the sl module.
type slAPI interface {
	StatelessReply(c *sr.Ctx, code int, reason string, extra ...string) error
}

// Route masks, as Kamailio's siputils sets them.
const (
	rtReqLocal = sr.RouteRequest | sr.RouteLocal
	rtCompare  = sr.RouteRequest | sr.RouteOnReply | sr.RouteFailure | sr.RouteBranch | sr.RouteLocal
)

func init() {
	module.Register(module.Spec[*siputils]{
		Name:    "siputils",
		Tree:    "modules_k",
		Deps:    []string{"modules/sl"},
		Summary: "SIP message tests and utilities",
		New: func() *siputils {
			return &siputils{OptionsAccept: "*/*", OptionsAcceptLanguage: "en"}
		},
		Funcs: []module.Func[*siputils]{
			{Name: "has_totag", Routes: sr.RouteAny, Call: (*siputils).hasToTag},
			{Name: "is_request", Routes: sr.RouteAny, Call: (*siputils).isRequest},
			{Name: "is_reply", Routes: sr.RouteAny, Call: (*siputils).isReply},
			{Name: "is_user", Args: []int{1}, Routes: rtReqLocal, Fixup: fixupFormats, Call: (*siputils).isUser},
			{Name: "uri_param", Args: []int{1, 2}, Routes: rtReqLocal, Fixup: fixupFormats, Call: (*siputils).uriParam},
			{Name: "add_uri_param", Args: []int{1}, Routes: sr.RouteRequest, Fixup: fixupFormats, Call: (*siputils).addURIParam},
			{
				Name: "is_uri_user_e164", Args: []int{1}, Routes: sr.RouteRequest | sr.RouteFailure | sr.RouteLocal,
				Fixup: fixupGetter, Call: (*siputils).isURIUserE164,
			},
			{Name: "options_reply", Routes: sr.RouteRequest, Call: (*siputils).optionsReply},
			{Name: "cmp_uri", Args: []int{2}, Routes: rtCompare, Fixup: fixupFormats, Call: (*siputils).cmpURI},
			{Name: "cmp_aor", Args: []int{2}, Routes: rtCompare, Fixup: fixupFormats, Call: (*siputils).cmpAOR},
			{
				Name: "tel2sip", Args: []int{3}, Routes: sr.RouteRequest | sr.RouteFailure | sr.RouteBranch,
				Fixup: fixupTel2sip, Call: (*siputils).tel2sip,
			},
		},
	})
}

// Init binds the sl module, which sends the OPTIONS replies.
func (m *siputils) Init(env *module.InitEnv) error {
	d, err := env.Dep("modules/sl")
	if err != nil {
		return err
	}
	api, ok := d.(slAPI)
	if !ok {
		return errors.New("modules/sl does not offer stateless replies")
	}
	m.sl = api
	return nil
}

// fixupFormats compiles every argument as a text with variables.
func fixupFormats(_ *siputils, fx *module.Fixup, args []module.Arg) ([]any, error) {
	out := make([]any, len(args))
	for i, a := range args {
		f, err := fx.TextFormat(a)
		if err != nil {
			return nil, err
		}
		out[i] = f
	}
	return out, nil
}

// fixupGetter compiles the argument as one pseudo-variable ("$fu").
func fixupGetter(_ *siputils, fx *module.Fixup, args []module.Arg) ([]any, error) {
	g, err := fx.Getter(args[0])
	if err != nil {
		return nil, err
	}
	return []any{g}, nil
}

func fixupTel2sip(_ *siputils, fx *module.Fixup, args []module.Arg) ([]any, error) {
	uri, err := fx.TextFormat(args[0])
	if err != nil {
		return nil, err
	}
	host, err := fx.TextFormat(args[1])
	if err != nil {
		return nil, err
	}
	res, err := fx.Setter(args[2])
	if err != nil {
		return nil, err
	}
	return []any{uri, host, res}, nil
}

func expand(p any, c *sr.Ctx) string { return p.(sr.Format).Expand(c) }

func truth(b bool) int {
	if b {
		return 1
	}
	return -1
}

// replyCtx reports whether c holds a reply being processed (a reply
// route), as opposed to a request (also in failure routes).
func replyCtx(c *sr.Ctx) bool {
	return c.Resp != nil && (c.RouteType == sr.RouteOnReply || c.Req == nil)
}

// message is the message the tests look at: the reply in reply routes,
// the request elsewhere.
func message(c *sr.Ctx) sip.Message {
	if replyCtx(c) {
		return c.Resp
	}
	if c.Req != nil {
		return c.Req
	}
	return nil
}

func (m *siputils) isRequest(c *sr.Ctx, _ []any) int { return truth(!replyCtx(c) && c.Req != nil) }

func (m *siputils) isReply(c *sr.Ctx, _ []any) int { return truth(replyCtx(c)) }

// hasToTag implements has_totag(): the To header has a non-empty tag (an
// in-dialog request).
func (m *siputils) hasToTag(c *sr.Ctx, _ []any) int {
	msg := message(c)
	if msg == nil {
		return -1
	}
	to := msg.To()
	if to == nil {
		return -1
	}
	tag, _ := to.Params.Get("tag")
	return truth(tag != "")
}

// isUser implements is_user(user): the user part of the username in the
// digest credentials (Authorization, else Proxy-Authorization) is user.
func (m *siputils) isUser(c *sr.Ctx, p []any) int {
	if c.Req == nil {
		return -1
	}
	want := expand(p[0], c)
	for _, name := range []string{"Authorization", "Proxy-Authorization"} {
		for _, h := range sipmsg.Headers(c.Req, name) {
			u, ok := digestUsername(h.Value())
			if !ok {
				continue
			}
			if user, _, _ := strings.Cut(u, "@"); user != "" {
				return truth(user == want)
			}
			return -1
		}
	}
	return -1
}

// digestUsername returns the username parameter of digest credentials.
func digestUsername(v string) (string, bool) {
	v = strings.TrimLeft(v, " \t")
	scheme, rest, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Digest") {
		return "", false
	}
	for rest != "" {
		rest = strings.TrimLeft(rest, " \t,")
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return "", false
		}
		name := strings.TrimSpace(rest[:eq])
		rest = strings.TrimLeft(rest[eq+1:], " \t")
		var val string
		if strings.HasPrefix(rest, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(rest) && rest[i] != '"'; i++ {
				if rest[i] == '\\' && i+1 < len(rest) {
					i++
				}
				b.WriteByte(rest[i])
			}
			if i >= len(rest) {
				return "", false
			}
			val, rest = b.String(), rest[i+1:]
		} else {
			end := strings.IndexAny(rest, ", \t")
			if end < 0 {
				end = len(rest)
			}
			val, rest = rest[:end], rest[end:]
		}
		if strings.EqualFold(name, "username") {
			return val, true
		}
	}
	return "", false
}

// uriParam implements uri_param(name[, value]): the Request-URI has the
// parameter (without a value when no value is given, with exactly that
// value otherwise). Names and values are compared as written.
func (m *siputils) uriParam(c *sr.Ctx, p []any) int {
	if c.Req == nil {
		return -1
	}
	name := expand(p[0], c)
	for _, kv := range c.Req.Recipient.UriParams {
		if kv.K != name {
			continue
		}
		if len(p) == 1 {
			return truth(kv.V == "")
		}
		return truth(kv.V == expand(p[1], c))
	}
	return -1
}

// maxURI bounds a Request-URI built by add_uri_param (Kamailio's
// MAX_URI_SIZE).
const maxURI = 1024

// addURIParam implements add_uri_param("name=value"): the parameter is
// appended to the Request-URI (before its headers).
func (m *siputils) addURIParam(c *sr.Ctx, p []any) int {
	if c.Req == nil {
		return -1
	}
	param := strings.TrimPrefix(strings.TrimSpace(expand(p[0], c)), ";")
	if param == "" {
		return 1
	}
	if strings.ContainsAny(param, " \t\r\n;?<>\"") {
		c.Log.Error("add_uri_param: invalid parameter", "param", param)
		return -1
	}
	u := c.Req.Recipient.Clone()
	if u.Scheme == "sip" || u.Scheme == "sips" {
		k, v, _ := strings.Cut(param, "=")
		u.UriParams = append(u.UriParams, sip.HeaderKV{K: k, V: v})
	} else {
		var nu sip.Uri
		if err := sip.ParseUri(u.String()+";"+param, &nu); err != nil {
			c.Log.Error("add_uri_param: cannot add the parameter", "error", err)
			return -1
		}
		u = &nu
	}
	if len(u.String()) > maxURI {
		c.Log.Error("add_uri_param: the Request-URI would be too long")
		return -1
	}
	c.Req.Recipient = *u
	return 1
}

// isURIUserE164 implements is_uri_user_e164(pv): the user part of the URI
// in pv is '+' followed by 2 to 15 digits.
func (m *siputils) isURIUserE164(c *sr.Ctx, p []any) int {
	uri := p[0].(sr.Getter).Get(c).Text()
	_, rest, ok := strings.Cut(uri, ":")
	if !ok {
		return -1
	}
	user, _, ok := strings.Cut(rest, "@")
	if !ok {
		return -1
	}
	return truth(isE164(user))
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

// optionsReply implements options_reply(): a 200 to an OPTIONS whose
// Request-URI has no user (one for the server itself), with Accept,
// Accept-Encoding, Accept-Language and Supported from the parameters. As
// in Kamailio it returns 0 once the reply is sent, which ends the script.
func (m *siputils) optionsReply(c *sr.Ctx, _ []any) int {
	req := c.Req
	if req == nil || req.Method != sip.OPTIONS {
		c.Log.Error("options_reply: called for a request other than OPTIONS")
		return -1
	}
	if req.Recipient.User != "" {
		c.Log.Error("options_reply: the Request-URI has a user: not for this server")
		return -1
	}
	if m.sl == nil {
		c.Log.Error("options_reply: no sl module to reply with")
		return -1
	}
	err := m.sl.StatelessReply(c, 200, "OK",
		"Accept: "+m.OptionsAccept,
		"Accept-Encoding: "+m.OptionsAcceptEncoding,
		"Accept-Language: "+m.OptionsAcceptLanguage,
		"Supported: "+m.OptionsSupport)
	if err == nil {
		return 0
	}
	c.Log.Error("options_reply: cannot send the 200", "error", err)
	if err := m.sl.StatelessReply(c, 500, "Server internal error"); err != nil {
		return -1
	}
	return 0
}

// tel2sip implements tel2sip(uri, host, pv): a tel: URI becomes
// sip:<number>@host;user=phone in pv (visual separators "-.()" removed
// from the number, everything lower-cased, as Kamailio does); any other URI
// is left alone and pv is not set. Returns 1, -1 when pv cannot be set.
func (m *siputils) tel2sip(c *sr.Ctx, p []any) int {
	uri := expand(p[0], c)
	if len(uri) < 4 || !strings.EqualFold(uri[:4], "tel:") {
		return 1
	}
	host := expand(p[1], c)
	var b strings.Builder
	b.WriteString("sip:")
	inParams := false
	for _, r := range strings.ToLower(uri[4:]) {
		if r == ';' {
			inParams = true
		}
		if !inParams && strings.ContainsRune("-.()", r) {
			continue
		}
		b.WriteRune(r)
	}
	b.WriteString("@" + host + ";user=phone")
	if err := p[2].(sr.Setter).Set(c, sr.StrVal(b.String())); err != nil {
		c.Log.Error("tel2sip: cannot set the result", "error", err)
		return -1
	}
	return 1
}
