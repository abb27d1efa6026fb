// Package avp is SER 3.0's avp module: functions over attributes (set,
// delete, compare, format with xl, substitute), and functions that move
// attribute values into the message: the Request-URI (attr2uri), the
// destination URI (attr_destination), header fields of the request
// (append_attr_hf, insert_attr_hf, replace_attr_hf) and of the reply
// (attr_to_reply), and back (hdr_body2attrs).
package avp

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/module"
	"sip-router.org/core/pv"
	"sip-router.org/core/sr"
	"sip-router.org/modules_s/avp/serattr"
)

type avp struct {
	// XLBufSize is the longest text an xl format may produce here.
	XLBufSize int `modparam:"xlbuf_size" min:"1"`

	reg *pv.Registry
}

type fn = module.Func[*avp]

const (
	rof = sr.RouteRequest | sr.RouteOnReply | sr.RouteFailure
	rf  = sr.RouteRequest | sr.RouteFailure
)

func init() {
	module.Register(module.Spec[*avp]{
		Name:    "avp",
		Tree:    "modules_s",
		Summary: "SER attribute functions: set, test, format, and copy attributes to and from the message",
		New:     func() *avp { return &avp{XLBufSize: 256} },
		Funcs: []fn{
			{Name: "set_iattr", Args: []int{2}, Routes: rof, Fixup: fixSetIAttr, Call: (*avp).setAttr},
			{Name: "set_sattr", Args: []int{2}, Routes: rof, Fixup: fixSetSAttr, Call: (*avp).setAttr},
			{Name: "set_attr", Args: []int{2}, Routes: rof, Fixup: fixSetSAttr, Call: (*avp).setAttr},
			{Name: "print_attr", Args: []int{1}, Routes: rof, Fixup: (*avp).fixAttr, Call: (*avp).printAttr},
			{Name: "del_attr", Args: []int{1}, Routes: rof, Fixup: (*avp).fixAttr, Call: (*avp).delAttr},
			{Name: "del_attrs", Args: []int{1}, Routes: rof, Fixup: fixGroup, Call: (*avp).delAttrs},
			{Name: "subst_attr", Args: []int{2}, Routes: rof, Fixup: (*avp).fixSubst, Call: (*avp).substAttr},
			{Name: "flags2attr", Args: []int{1}, Routes: rof, Fixup: (*avp).fixAttr, Call: (*avp).flags2attr},
			{Name: "attr2uri", Args: []int{1, 2}, Routes: rf, Fixup: (*avp).fixAttr2URI, Call: (*avp).attr2uri},
			{Name: "dump_attrs", Args: []int{0, 1}, Routes: rof, Fixup: fixGroup, Call: (*avp).dumpAttrs},
			{Name: "attr_equals", Args: []int{2}, Routes: rof, Fixup: fixNameValue, Call: (*avp).attrEquals},
			{Name: "attr_exists", Args: []int{1}, Routes: rof, Fixup: fixNameValue, Call: (*avp).attrEquals},
			{Name: "attr_equals_xl", Args: []int{2}, Routes: rof, Fixup: (*avp).fixAttrXL, Call: (*avp).attrEqualsXL},
			{Name: "xlset_attr", Args: []int{2}, Routes: rof, Fixup: (*avp).fixAttrXL, Call: (*avp).xlsetAttr},
			{Name: "xlfix_attr", Args: []int{1}, Routes: rof, Fixup: (*avp).fixAttr, Call: (*avp).xlfixAttr},
			{Name: "insert_attr_hf", Args: []int{1, 2}, Routes: rf, Fixup: (*avp).fixHF, Call: (*avp).insertAttrHF},
			{Name: "append_attr_hf", Args: []int{1, 2}, Routes: rf, Fixup: (*avp).fixHF, Call: (*avp).appendAttrHF},
			{Name: "replace_attr_hf", Args: []int{1, 2}, Routes: rf, Fixup: (*avp).fixHF, Call: (*avp).replaceAttrHF},
			{Name: "attr_to_reply", Args: []int{1, 2}, Routes: rf, Fixup: (*avp).fixHF, Call: (*avp).attrToReply},
			{Name: "attr_destination", Args: []int{1}, Routes: rf, Fixup: (*avp).fixAttr, Call: (*avp).attrDestination},
			{Name: "xlset_destination", Args: []int{1}, Routes: sr.RouteRequest, Fixup: fixXL, Call: (*avp).xlsetDestination},
			{Name: "hdr_body2attrs", Args: []int{2}, Routes: rof, Fixup: fixBody2Attrs(',', 0), Call: (*avp).hdrBody2Attrs},
			{Name: "hdr_body2attrs2", Args: []int{2}, Routes: rof, Fixup: fixBody2Attrs(';', ','), Call: (*avp).hdrBody2Attrs},
		},
	})
}

var _ module.Configurer = (*avp)(nil)

// Configure keeps the configuration's registry: attribute arguments are
// compiled with it in SER mode, and xlfix_attr compiles formats at run
// time.
func (m *avp) Configure(env *module.ConfigEnv) error {
	m.reg, _ = env.PVs.(*pv.Registry)
	return nil
}

// nameArg is an attribute named by a function argument the way SER's
// get_avp_id reads it: a literal name ("called_number", "fu.x"), or the
// value of an attribute or select that holds the name.
type nameArg struct {
	fixed serattr.Ident
	dyn   sr.Getter
}

func (n nameArg) ident(c *sr.Ctx) (serattr.Ident, bool) {
	if n.dyn == nil {
		return n.fixed, true
	}
	v := n.dyn.Get(c)
	if v.K != sr.Str || v.S == "" {
		c.Log.Debug("avp: the attribute name is not a string", "name", v.String())
		return serattr.Ident{}, false
	}
	id, err := serattr.ParseIdent(v.S)
	if err != nil {
		c.Log.Error("avp: invalid attribute name", "name", v.S, "error", err)
		return serattr.Ident{}, false
	}
	return id, true
}

func compileName(fx *module.Fixup, a module.Arg) (nameArg, error) {
	t := strings.TrimSpace(a.S)
	if a.Kind == module.ArgPV || strings.HasPrefix(t, "$") || strings.HasPrefix(t, "@") {
		g, err := fx.Getter(a)
		if err != nil {
			return nameArg{}, err
		}
		return nameArg{dyn: g}, nil
	}
	id, err := serattr.ParseIdent(a.S)
	if err != nil {
		return nameArg{}, fx.Errorf(a, "%s: %v", fx.Func, err)
	}
	return nameArg{fixed: id}, nil
}

func fixSetSAttr(_ *avp, fx *module.Fixup, args []module.Arg) ([]any, error) {
	n, err := compileName(fx, args[0])
	if err != nil {
		return nil, err
	}
	v, err := serattr.CompileValue(fx, args[1])
	if err != nil {
		return nil, err
	}
	return []any{n, v, false}, nil
}

func fixSetIAttr(_ *avp, fx *module.Fixup, args []module.Arg) ([]any, error) {
	n, err := compileName(fx, args[0])
	if err != nil {
		return nil, err
	}
	var v sr.Getter
	t := strings.TrimSpace(args[1].S)
	if args[1].Kind == module.ArgPV || strings.HasPrefix(t, "$") || strings.HasPrefix(t, "@") {
		if v, err = fx.Getter(args[1]); err != nil {
			return nil, err
		}
	} else {
		k, err := fx.Int(args[1])
		if err != nil {
			return nil, err
		}
		v = serattr.Const(sr.IntVal(k))
	}
	return []any{n, v, true}, nil
}

// setAttr is set_iattr, set_sattr and set_attr: it adds a value to the
// attribute (older values stay).
func (m *avp) setAttr(c *sr.Ctx, p []any) int {
	id, ok := p[0].(nameArg).ident(c)
	if !ok {
		return -1
	}
	v := p[1].(sr.Getter).Get(c)
	if p[2].(bool) {
		k, ok := v.AsInt()
		if !ok {
			c.Log.Error("set_iattr: the value is not an integer", "value", v.String())
			return -1
		}
		v = sr.IntVal(k)
	} else {
		if v.IsNull() {
			c.Log.Error("set_sattr: no value", "attr", id.Text)
			return -1
		}
		v = sr.StrVal(v.Text())
	}
	serattr.Add(c, id.Name, v, id.Flags)
	return 1
}

func (m *avp) fixAttr(fx *module.Fixup, args []module.Arg) ([]any, error) {
	_, id, err := serattr.CompileAttr(m.reg, fx, args[0])
	if err != nil {
		return nil, err
	}
	return []any{id}, nil
}

func describe(v sr.Value) string {
	if v.K == sr.Str {
		return "'" + v.S + "'"
	}
	return v.String()
}

// printAttr is print_attr(attr): logs the first value at L_INFO.
func (m *avp) printAttr(c *sr.Ctx, p []any) int {
	id := p[0].(serattr.Ident)
	a, ok := serattr.First(c.AVPs, id.Name, id.Flags)
	if !ok {
		c.Log.Info(fmt.Sprintf("AVP '%s' not found", id.Text))
		return -1
	}
	c.Log.Info(fmt.Sprintf("AVP: '%s'=%s", id.Text, describe(a.Val)))
	return 1
}

// delAttr is del_attr(attr): every value of the attribute goes.
func (m *avp) delAttr(c *sr.Ctx, p []any) int {
	id := p[0].(serattr.Ident)
	serattr.Delete(c.AVPs, id.Name, id.Flags, true)
	return 1
}

func fixGroup(_ *avp, fx *module.Fixup, args []module.Arg) ([]any, error) {
	if len(args) == 0 {
		return []any{sr.AVPFlags(0)}, nil
	}
	if args[0].Kind == module.ArgInt {
		return nil, fx.Errorf(args[0], "%s: a group ($fu, $tr, $g …) expected, not %s", fx.Func, args[0].S)
	}
	g, err := serattr.ParseGroup(args[0].S, "fu", "fr", "tu", "tr", "fd", "td", "g")
	if err != nil {
		return nil, fx.Errorf(args[0], "%s: %v", fx.Func, err)
	}
	return []any{g}, nil
}

// delAttrs is del_attrs(group): the whole group goes.
func (m *avp) delAttrs(c *sr.Ctx, p []any) int {
	serattr.ClearGroup(c.AVPs, p[0].(sr.AVPFlags))
	return 1
}

var dumpGroups = []struct {
	g    sr.AVPFlags
	name string
}{
	{serattr.GroupGlobal, "class=GLOBAL"},
	{serattr.GroupFromDomain, "track=FROM class=DOMAIN"},
	{serattr.GroupToDomain, "track=TO class=DOMAIN"},
	{serattr.GroupFromUser, "track=FROM class=USER"},
	{serattr.GroupToUser, "track=TO class=USER"},
	{serattr.GroupFromURI, "track=FROM class=URI"},
	{serattr.GroupToURI, "track=TO class=URI"},
}

// dumpAttrs is dump_attrs([group]): logs the attributes group by group, at
// L_INFO, oldest first.
func (m *avp) dumpAttrs(c *sr.Ctx, p []any) int {
	want := p[0].(sr.AVPFlags)
	for _, g := range dumpGroups {
		if want != 0 && want != g.g {
			continue
		}
		var items []string
		c.AVPs.Each(func(a *sr.AVP) bool {
			if groupOf(a.Flags) == g.g {
				items = append(items, fmt.Sprintf("AVP[%s]=%s", quoteName(a.Name), quoteVal(a.Val)))
			}
			return true
		})
		if len(items) == 0 {
			c.Log.Info(g.name + ": no AVP present")
			continue
		}
		for i, j := 0, len(items)-1; i < j; i, j = i+1, j-1 {
			items[i], items[j] = items[j], items[i]
		}
		c.Log.Info(g.name + ": " + strings.Join(items, " "))
	}
	return 1
}

// groupOf returns the group an AVP belongs to.
func groupOf(f sr.AVPFlags) sr.AVPFlags {
	f = serattr.Norm(f)
	if f&sr.AVPClassGlobal != 0 {
		return serattr.GroupGlobal
	}
	return f & (sr.AVPClassMask | sr.AVPTrackMask)
}

func quoteName(n sr.AVPName) string {
	if n.IsID {
		return strconv.Itoa(n.ID)
	}
	return strconv.Quote(n.S)
}

func quoteVal(v sr.Value) string {
	if v.K == sr.Str {
		return strconv.Quote(v.S)
	}
	return v.String()
}

func (m *avp) fixSubst(fx *module.Fixup, args []module.Arg) ([]any, error) {
	_, id, err := serattr.CompileAttr(m.reg, fx, args[0])
	if err != nil {
		return nil, err
	}
	s, err := fx.Str(args[1])
	if err != nil {
		return nil, err
	}
	sub, err := parseSubst(s)
	if err != nil {
		return nil, fx.Errorf(args[1], "%s: %v", fx.Func, err)
	}
	return []any{id, sub}, nil
}

// substAttr is subst_attr(attr, "/re/repl/flags"): the first value, a
// string, is replaced by the result of the substitution in place. No
// match, a numeric value or no value at all give -1.
func (m *avp) substAttr(c *sr.Ctx, p []any) int {
	id, sub := p[0].(serattr.Ident), p[1].(*subst)
	a, ok := serattr.First(c.AVPs, id.Name, id.Flags)
	if !ok {
		c.Log.Error("subst_attr: attribute not found", "attr", id.Text)
		return -1
	}
	if a.Val.K != sr.Str {
		c.Log.Error("subst_attr: attribute has a numeric value", "attr", id.Text)
		return -1
	}
	out, ok := sub.apply(a.Val.S)
	if !ok {
		return -1
	}
	serattr.Replace(c.AVPs, id.Name, id.Flags, sr.StrVal(out))
	return 1
}

// flags2attr is flags2attr(attr): adds the message flags as an integer.
func (m *avp) flags2attr(c *sr.Ctx, p []any) int {
	id := p[0].(serattr.Ident)
	serattr.Add(c, id.Name, sr.IntVal(int(int32(c.Flags))), id.Flags)
	return 1
}

// URI parts attr2uri can set.
type part int

const (
	partURI part = iota
	partPrefix
	partUser
	partUserPass
	partHost
	partHostPort
	partPort
	partStrip
	partStripTail
)

var parts = map[string]part{
	"": partURI, "uri": partURI, "prefix": partPrefix,
	"username": partUser, "user": partUser,
	"usernamepassword": partUserPass, "userpass": partUserPass,
	"domain": partHost, "host": partHost,
	"domainport": partHostPort, "hostport": partHostPort,
	"port": partPort, "strip": partStrip, "strip_tail": partStripTail,
}

func (m *avp) fixAttr2URI(fx *module.Fixup, args []module.Arg) ([]any, error) {
	_, id, err := serattr.CompileAttr(m.reg, fx, args[0])
	if err != nil {
		return nil, err
	}
	pt := partURI
	if len(args) == 2 {
		s, err := fx.Str(args[1])
		if err != nil {
			return nil, err
		}
		var ok bool
		if pt, ok = parts[strings.ToLower(strings.TrimSpace(s))]; !ok {
			return nil, fx.Errorf(args[1], "%s: invalid URI part %q (uri, prefix, user, userpass, domain, domainport, port, strip, strip_tail)", fx.Func, s)
		}
	}
	return []any{id, pt}, nil
}

// attr2uri is attr2uri(attr[, part]): the first value rewrites the
// Request-URI, or the part of it named.
func (m *avp) attr2uri(c *sr.Ctx, p []any) int {
	id, pt := p[0].(serattr.Ident), p[1].(part)
	a, ok := serattr.First(c.AVPs, id.Name, id.Flags)
	if !ok {
		c.Log.Error("attr2uri: attribute not found", "attr", id.Text)
		return -1
	}
	if c.Req == nil {
		return -1
	}
	if err := rewrite(&c.Req.Recipient, pt, a.Val); err != nil {
		c.Log.Error("attr2uri: failed to change the Request-URI", "attr", id.Text, "error", err)
		return -1
	}
	return 1
}

// rewrite changes part of u to v.
func rewrite(u *sip.Uri, pt part, v sr.Value) error {
	s := v.Text()
	if pt == partURI {
		var n sip.Uri
		if err := parseSIPURI(s, &n); err != nil {
			return err
		}
		*u = n
		return nil
	}
	if u.Raw() != "" {
		return fmt.Errorf("the Request-URI %q is not a SIP URI", u.String())
	}
	switch pt {
	case partStrip, partStripTail:
		k, ok := v.AsInt()
		if !ok || k < 0 {
			return fmt.Errorf("not a count: %q", s)
		}
		if k > len(u.User) {
			k = len(u.User)
		}
		if pt == partStrip {
			u.User = u.User[k:]
		} else {
			u.User = u.User[:len(u.User)-k]
		}
	case partPrefix:
		if err := checkUser(s); err != nil {
			return err
		}
		u.User = s + u.User
	case partUser:
		if err := checkUser(s); err != nil {
			return err
		}
		u.User = s
		if s == "" {
			u.Password = ""
		}
	case partUserPass:
		user, pass, _ := strings.Cut(s, ":")
		if err := checkUser(user); err != nil {
			return err
		}
		if err := checkUser(pass); err != nil {
			return err
		}
		u.User, u.Password = user, pass
	case partHost, partHostPort:
		var n sip.Uri
		if err := parseSIPURI("sip:"+s, &n); err != nil {
			return err
		}
		if n.User != "" || n.UriParams.Length() > 0 || n.Headers.Length() > 0 || (pt == partHost && n.Port != 0) {
			return fmt.Errorf("invalid host %q", s)
		}
		u.Host = n.Host
		if pt == partHostPort {
			u.Port = n.Port
		}
	case partPort:
		k, ok := v.AsInt()
		if !ok || k < 0 || k > 65535 {
			return fmt.Errorf("invalid port %q", s)
		}
		u.Port = k
	}
	return nil
}

func parseSIPURI(s string, u *sip.Uri) error {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsAny(s, " \t\r\n<>\"") {
		return fmt.Errorf("invalid URI %q", s)
	}
	if err := sip.ParseUri(s, u); err != nil {
		return fmt.Errorf("invalid URI %q: %w", s, err)
	}
	if u.Wildcard || (u.Raw() == "" && u.Host == "") {
		return fmt.Errorf("invalid URI %q: no host", s)
	}
	return nil
}

func checkUser(s string) error {
	if i := strings.IndexAny(s, " \t\r\n@<>\":?;"); i >= 0 {
		return fmt.Errorf("invalid character %q in %q", s[i], s)
	}
	return nil
}

func fixNameValue(_ *avp, fx *module.Fixup, args []module.Arg) ([]any, error) {
	n, err := compileName(fx, args[0])
	if err != nil {
		return nil, err
	}
	var v sr.Getter
	if len(args) == 2 {
		if v, err = serattr.CompileValue(fx, args[1]); err != nil {
			return nil, err
		}
	}
	return []any{n, v}, nil
}

// valueEquals compares an attribute value with text as SER does: string
// values byte for byte, integers with the text read as a number.
func valueEquals(v sr.Value, text string) bool {
	if v.K == sr.Str {
		return v.S == text
	}
	k, _ := strconv.Atoi(strings.TrimSpace(text))
	return v.I == k
}

// attrEquals is attr_equals(name, value) and attr_exists(name): 1 when
// some value of the attribute equals the value (or, without one, when the
// attribute exists).
func (m *avp) attrEquals(c *sr.Ctx, p []any) int {
	id, ok := p[0].(nameArg).ident(c)
	if !ok {
		return -1
	}
	vals := serattr.Values(c.AVPs, id.Name, id.Flags)
	if len(vals) == 0 {
		return -1
	}
	g, _ := p[1].(sr.Getter)
	if g == nil {
		return 1
	}
	want := g.Get(c)
	if want.IsNull() {
		return -1
	}
	for _, a := range vals {
		if valueEquals(a.Val, want.Text()) {
			return 1
		}
	}
	return -1
}

func (m *avp) fixAttrXL(fx *module.Fixup, args []module.Arg) ([]any, error) {
	_, id, err := serattr.CompileAttr(m.reg, fx, args[0])
	if err != nil {
		return nil, err
	}
	f, err := fx.XLFormat(args[1])
	if err != nil {
		return nil, err
	}
	return []any{id, f}, nil
}

// expand prints an xl format; ok is false when the result is empty, is the
// xl null ("<null>") or does not fit in xlbuf_size.
func (m *avp) expand(c *sr.Ctx, f sr.Format, who string) (string, bool) {
	s := f.Expand(c)
	if len(s) > m.XLBufSize {
		c.Log.Error(who+": the formatted text is longer than xlbuf_size", "len", len(s), "xlbuf_size", m.XLBufSize)
		return "", false
	}
	if s == "" || s == "<null>" {
		return "", false
	}
	return s, true
}

// attrEqualsXL is attr_equals_xl(attr, format).
func (m *avp) attrEqualsXL(c *sr.Ctx, p []any) int {
	id := p[0].(serattr.Ident)
	s, ok := m.expand(c, p[1].(sr.Format), "attr_equals_xl")
	if !ok {
		return -1
	}
	for _, a := range serattr.Values(c.AVPs, id.Name, id.Flags) {
		if valueEquals(a.Val, s) {
			return 1
		}
	}
	return -1
}

// xlsetAttr is xlset_attr(attr, format): adds the formatted text.
func (m *avp) xlsetAttr(c *sr.Ctx, p []any) int {
	id := p[0].(serattr.Ident)
	s, ok := m.expand(c, p[1].(sr.Format), "xlset_attr")
	if !ok {
		c.Log.Error("xlset_attr: error while expanding the xl format", "attr", id.Text)
		return -1
	}
	serattr.Add(c, id.Name, sr.StrVal(s), id.Flags)
	return 1
}

// xlfixAttr is xlfix_attr(attr): the first value, a string, is read as an
// xl format and replaced by what it prints.
func (m *avp) xlfixAttr(c *sr.Ctx, p []any) int {
	id := p[0].(serattr.Ident)
	a, ok := serattr.First(c.AVPs, id.Name, id.Flags)
	if !ok || a.Val.K != sr.Str {
		c.Log.Debug("xlfix_attr: no string attribute", "attr", id.Text)
		return -1
	}
	if m.reg == nil {
		c.Log.Error("xlfix_attr: no pseudo-variable registry")
		return -1
	}
	f, err := m.reg.ParseXLFormat(a.Val.S)
	if err != nil {
		c.Log.Error("xlfix_attr: wrong format", "attr", id.Text, "format", a.Val.S, "error", err)
		return -1
	}
	s, ok := m.expand(c, f, "xlfix_attr")
	if !ok {
		return -1
	}
	serattr.Delete(c.AVPs, id.Name, id.Flags, false)
	serattr.Add(c, id.Name, sr.StrVal(s), id.Flags)
	return 1
}

func (m *avp) attrDestination(c *sr.Ctx, p []any) int {
	id := p[0].(serattr.Ident)
	a, ok := serattr.First(c.AVPs, id.Name, id.Flags)
	if !ok {
		return -1
	}
	if a.Val.K != sr.Str {
		c.Log.Error("attr_destination: attribute has a numeric value", "attr", id.Text)
		return -1
	}
	return setDestination(c, a.Val.S, "attr_destination")
}

// setDestination sets $du from a URI or a name-addr ("<sip:x>;p").
func setDestination(c *sr.Ctx, s, who string) int {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '<'); i >= 0 {
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			c.Log.Error(who+": invalid name-addr", "value", s)
			return -1
		}
		s = s[i+1 : i+j]
	}
	var u sip.Uri
	if err := parseSIPURI(s, &u); err != nil {
		c.Log.Error(who+": cannot set the destination URI", "error", err)
		return -1
	}
	c.DstURI = s
	return 1
}

func fixXL(_ *avp, fx *module.Fixup, args []module.Arg) ([]any, error) {
	f, err := fx.XLFormat(args[0])
	if err != nil {
		return nil, err
	}
	return []any{f}, nil
}

func (m *avp) xlsetDestination(c *sr.Ctx, p []any) int {
	s, ok := m.expand(c, p[0].(sr.Format), "xlset_destination")
	if !ok {
		return -1
	}
	return setDestination(c, s, "xlset_destination")
}

// logf logs through the message's logger.
func logf(c *sr.Ctx, level slog.Level, msg string, args ...any) {
	c.Log.Log(context.Background(), level, msg, args...)
}
