package registrar

import (
	"fmt"
	"strings"

	"sip-router.org/core/module"
	"sip-router.org/core/sr"
	"sip-router.org/modules_k/usrloc"
)

// fetchedKey is the Ctx value holding the contacts reg_fetch_contacts
// fetched, by profile name.
type fetchedKey struct{}

type fetched struct {
	table string
	rec   usrloc.Record
}

func profiles(c *sr.Ctx) map[string]*fetched {
	m, _ := c.Value(fetchedKey{}).(map[string]*fetched)
	return m
}

func fixupFetch(m *registrar, fx *module.Fixup, args []module.Arg) ([]any, error) {
	t, err := m.table(fx, args[0])
	if err != nil {
		return nil, err
	}
	uri, err := fx.TextFormat(args[1])
	if err != nil {
		return nil, err
	}
	prof, err := profileName(fx, args[2])
	if err != nil {
		return nil, err
	}
	return []any{t, uri, prof}, nil
}

func fixupProfile(_ *registrar, fx *module.Fixup, args []module.Arg) ([]any, error) {
	prof, err := profileName(fx, args[0])
	if err != nil {
		return nil, err
	}
	return []any{prof}, nil
}

func profileName(fx *module.Fixup, a module.Arg) (string, error) {
	s, err := fx.Str(a)
	if err != nil {
		return "", err
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fx.Errorf(a, "%s: empty profile name", fx.Func)
	}
	return s, nil
}

// fetchContacts implements reg_fetch_contacts(table, uri, profile): the
// AOR's contacts are kept, for this message, under the profile name for
// $ulc(profile=>attr). It returns 1 when the AOR has contacts.
func (m *registrar) fetchContacts(c *sr.Ctx, p []any) int {
	t := p[0].(*tableRef)
	prof := p[2].(string)
	if t.dom == nil {
		return -1
	}
	aor, rerr := m.aorOfString(p[1].(sr.Format).Expand(c))
	if rerr != nil {
		return -1
	}
	rec, found, err := t.dom.Get(aor)
	if err != nil {
		return -1
	}
	ps := profiles(c)
	if ps == nil {
		ps = map[string]*fetched{}
		c.SetValue(fetchedKey{}, ps)
	}
	ps[prof] = &fetched{table: t.name, rec: rec}
	return truth(found)
}

// freeContacts implements reg_free_contacts(profile).
func (m *registrar) freeContacts(c *sr.Ctx, p []any) int {
	if ps := profiles(c); ps != nil {
		delete(ps, p[0].(string))
	}
	return 1
}

// ulcName is a parsed $ulc(profile=>attr).
type ulcName struct {
	profile, attr string
}

var ulcAttrs = map[string]bool{
	"aor": true, "domain": true, "count": true, "addr": true, "path": true, "received": true,
	"expires": true, "callid": true, "q": true, "cseq": true, "flags": true, "cflags": true,
	"user_agent": true, "socket": true, "modified": true, "methods": true,
}

func (m *registrar) parseULC(inner string) (any, error) {
	prof, attr, ok := strings.Cut(inner, "=>")
	prof, attr = strings.TrimSpace(prof), strings.ToLower(strings.TrimSpace(attr))
	if !ok || prof == "" || !ulcAttrs[attr] {
		return nil, fmt.Errorf("$ulc(%s): write $ulc(profile=>attribute), attribute one of aor, domain, count, "+
			"addr, path, received, expires, callid, q, cseq, flags, cflags, user_agent, socket, modified, methods", inner)
	}
	return ulcName{prof, attr}, nil
}

// getULC reads an attribute of a fetched profile: of the AOR, or of its
// first contact.
func (m *registrar) getULC(c *sr.Ctx, name any) sr.Value {
	n := name.(ulcName)
	f := profiles(c)[n.profile]
	if f == nil {
		return sr.NullVal
	}
	switch n.attr {
	case "aor":
		return sr.StrVal(f.rec.AOR)
	case "domain":
		return sr.StrVal(f.table)
	case "count":
		return sr.IntVal(len(f.rec.Contacts))
	}
	if len(f.rec.Contacts) == 0 {
		return sr.NullVal
	}
	ct := &f.rec.Contacts[0]
	str := func(s string) sr.Value {
		if s == "" {
			return sr.NullVal
		}
		return sr.StrVal(s)
	}
	switch n.attr {
	case "addr":
		return sr.StrVal(ct.URI)
	case "path":
		return str(ct.Path)
	case "received":
		return str(ct.Received)
	case "expires":
		if ct.Permanent() {
			return sr.IntVal(0)
		}
		return sr.IntVal(int(ct.Expires.Unix()))
	case "callid":
		return sr.StrVal(ct.CallID)
	case "q":
		return sr.IntVal(ct.Q)
	case "cseq":
		return sr.IntVal(int(ct.CSeq))
	case "flags":
		return sr.IntVal(int(ct.Flags))
	case "cflags":
		return sr.IntVal(int(ct.CFlags))
	case "user_agent":
		return str(ct.UserAgent)
	case "socket":
		return str(ct.Socket)
	case "modified":
		return sr.IntVal(int(ct.LastModified.Unix()))
	case "methods":
		return sr.IntVal(int(ct.Methods))
	}
	return sr.NullVal
}
