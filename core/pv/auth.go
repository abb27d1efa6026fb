package pv

import (
	"strings"

	"sip-router.org/core/digest"
	"sip-router.org/core/sr"
)

// credentials are the parts of digest credentials the $a* variables read.
type credentials struct {
	whole, user, domain, realm, uri string
}

type credPart uint8

const (
	credWhole credPart = iota
	credUser
	credDomain
	credRealm
	credURI
)

// credGetter reads a part of the digest credentials of the request: those
// an auth function authorized it with, if one did; otherwise
// Proxy-Authorization if present, otherwise Authorization (as Kamailio
// picks them). ACK and CANCEL carry no credentials worth reading, and
// credentials that do not parse read as null.
func credGetter(part credPart) getFn {
	return func(c *sr.Ctx) sr.Value {
		cr, ok := requestCredentials(c)
		if !ok {
			return sr.NullVal
		}
		switch part {
		case credUser:
			return sr.StrVal(cr.user)
		case credDomain:
			return sr.StrVal(cr.domain)
		case credRealm:
			return sr.StrVal(cr.realm)
		case credURI:
			return strOrNull(cr.uri)
		}
		return sr.StrVal(cr.whole)
	}
}

func requestCredentials(c *sr.Ctx) (credentials, bool) {
	if a := digest.GetAuthorized(c); a != nil {
		return credentials{whole: a.Username, user: a.User, domain: a.Domain, realm: a.Realm, uri: a.URI}, true
	}
	req := request(c)
	if req == nil || req.Method == "ACK" || req.Method == "CANCEL" {
		return credentials{}, false
	}
	v, ok := headerValue(c, "Proxy-Authorization")
	if !ok {
		if v, ok = headerValue(c, "Authorization"); !ok {
			return credentials{}, false
		}
	}
	return parseDigest(v)
}

// getAccUser is $Au: user@realm from the credentials, or the From user
// and host.
func getAccUser(c *sr.Ctx) sr.Value {
	if cr, ok := requestCredentials(c); ok && cr.user != "" {
		if cr.realm != "" {
			return sr.StrVal(cr.user + "@" + cr.realm)
		}
		return sr.StrVal(cr.user)
	}
	m := message(c)
	if m == nil {
		return sr.NullVal
	}
	f := m.From()
	if f == nil || f.Address.Host == "" {
		return sr.NullVal
	}
	return sr.StrVal(f.Address.User + "@" + f.Address.Host)
}

// parseDigest parses "Digest name=value, name="quoted value", ...". It
// returns false for another scheme, a missing '=', an unterminated
// quoted string, or a username, realm or uri given twice. Other
// parameters are skipped whatever their size; parsing is linear and
// never reads past the input.
func parseDigest(s string) (credentials, bool) {
	var cr credentials
	s = strings.TrimLeft(s, " \t")
	sp := strings.IndexAny(s, " \t")
	if sp < 0 || !strings.EqualFold(s[:sp], "digest") {
		return cr, false
	}
	s = s[sp:]
	var seenUser, seenRealm, seenURI bool
	for {
		s = strings.TrimLeft(s, " \t\r\n,")
		if s == "" {
			break
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return cr, false
		}
		name := strings.TrimRight(s[:eq], " \t")
		if strings.ContainsAny(name, " \t,\"") {
			return cr, false
		}
		s = strings.TrimLeft(s[eq+1:], " \t")
		var val string
		if strings.HasPrefix(s, `"`) {
			end, raw := -1, false
			for i := 1; i < len(s); i++ {
				if s[i] == '\\' {
					raw = true
					i++
					continue
				}
				if s[i] == '"' {
					end = i
					break
				}
			}
			if end < 0 {
				return cr, false
			}
			val = s[1:end]
			if raw {
				val, _ = unquote(s[:end+1])
			}
			s = s[end+1:]
		} else {
			end := strings.IndexAny(s, ", \t")
			if end < 0 {
				end = len(s)
			}
			val, s = s[:end], s[end:]
		}
		switch {
		case strings.EqualFold(name, "username"):
			if seenUser {
				return cr, false
			}
			seenUser, cr.whole = true, val
		case strings.EqualFold(name, "realm"):
			if seenRealm {
				return cr, false
			}
			seenRealm, cr.realm = true, val
		case strings.EqualFold(name, "uri"):
			if seenURI {
				return cr, false
			}
			seenURI, cr.uri = true, val
		}
	}
	cr.user, cr.domain, _ = strings.Cut(cr.whole, "@")
	return cr, true
}
