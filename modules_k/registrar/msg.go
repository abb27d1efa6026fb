package registrar

import (
	"errors"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/location"
	"sip-router.org/core/sipmsg"
	"sip-router.org/modules_k/usrloc"
)

// Size limits, as Kamailio's registrar has them.
const (
	maxContactLen  = 255 // CONTACT_MAX_SIZE
	maxReceivedLen = 255 // RECEIVED_MAX_SIZE
	maxCallIDLen   = 255 // CALLID_MAX_SIZE
	maxUALen       = 255 // MAX_UA_SIZE
	maxUserLen     = 64  // USERNAME_MAX_SIZE
	maxDomainLen   = 64  // DOMAIN_MAX_SIZE
	maxAORLen      = 256 // MAX_AOR_LEN
	maxPathLen     = 512 // MAX_PATH_SIZE
)

// aorOf builds the address of record of a URI as Kamailio's extract_aor
// does: the user part (unescaped), "@" and the host with use_domain (the
// realm_prefix taken off), lower-cased (the domain only, with
// case_sensitive).
func (m *registrar) aorOf(u *sip.Uri) (string, *regError) {
	user, host := u.User, u.Host
	if raw := u.Raw(); raw != "" {
		if !strings.EqualFold(u.Scheme, "tel") {
			return "", errAORParse
		}
		user, host = raw, ""
		if i := strings.IndexByte(user, ';'); i >= 0 {
			user = user[:i]
		}
	}
	if len(user) > maxUserLen || len(host) > maxDomainLen || len(user)+len(host)+1 > maxAORLen {
		return "", errAORLen
	}
	user, ok := unescape(user)
	if !ok {
		return "", errUnescape
	}
	aor := user
	useDomain := m.ul != nil && m.ul.UseDomain()
	if useDomain {
		if p := m.RealmPrefix; p != "" && len(host) >= len(p) && strings.EqualFold(host[:len(p)], p) {
			host = host[len(m.RealmPrefix):]
		}
		if user != "" {
			aor += "@"
		}
		aor += host
	}
	if aor == "" {
		return "", errToUser
	}
	if m.CaseSensitive && user != "" {
		return aor[:len(user)] + strings.ToLower(aor[len(user):]), nil
	}
	return strings.ToLower(aor), nil
}

// aorOfString parses a URI given as text (lookup's and unregister's
// argument, aor_avp) and builds its AOR.
func (m *registrar) aorOfString(s string) (string, *regError) {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '<'); i >= 0 {
		if j := strings.IndexByte(s[i:], '>'); j > 0 {
			s = s[i+1 : i+j]
		}
	}
	var u sip.Uri
	if s == "" || sip.ParseUri(s, &u) != nil {
		return "", errAORParse
	}
	return m.aorOf(&u)
}

// unescape decodes %XX escapes of a URI user part.
func unescape(s string) (string, bool) {
	if strings.IndexByte(s, '%') < 0 {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		n, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", false
		}
		b.WriteByte(byte(n))
		i += 2
	}
	return b.String(), true
}

// expiresHeader reads the Expires header: present, and its value.
func expiresHeader(msg sip.Message) (int, bool, *regError) {
	n, present, ok := location.ExpiresHeader(msg)
	if !ok {
		return 0, false, errParseExp
	}
	return n, present, nil
}

// contacts returns the Contact header values of a message, and whether
// they are the star (which must be alone).
func contacts(msg sip.Message) ([]*sip.ContactHeader, bool, *regError) {
	cs, star, err := location.Contacts(msg)
	switch {
	case errors.Is(err, location.ErrStar):
		return nil, false, errStarCont
	case err != nil:
		return nil, false, errParseCont
	}
	return cs, star, nil
}

// listHas reports whether a comma-separated header list (Supported, …)
// of a message holds a token.
func listHas(msg sip.Message, name, token string) bool {
	for _, h := range sipmsg.Headers(msg, name) {
		for _, t := range strings.Split(h.Value(), ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// allowedMethods reads the Allow headers into a method mask; without
// Allow every method is accepted.
func allowedMethods(msg sip.Message) uint32 {
	hs := sipmsg.Headers(msg, "Allow")
	if len(hs) == 0 {
		return usrloc.AllMethods
	}
	var mask uint32
	for _, h := range hs {
		m, ok := usrloc.ParseMethods(h.Value())
		if !ok {
			return usrloc.AllMethods
		}
		mask |= m
	}
	return mask
}

// firstPathURI parses the first element of a Path vector.
func firstPathURI(path string) (*sip.Uri, bool) {
	elems := location.SplitList(path)
	if len(elems) == 0 {
		return nil, false
	}
	var u sip.Uri
	params := sip.NewParams()
	if _, err := sip.ParseAddressValue(elems[0], &u, &params); err != nil || u.Host == "" {
		return nil, false
	}
	return &u, true
}

// pathVector joins the Path headers of a REGISTER (RFC 3327), checks that
// its first hop is a loose router, and returns the received parameter of
// that hop (path_use_received).
func (m *registrar) pathVector(msg sip.Message) (path, received string, err *regError) {
	var parts []string
	n := 0
	for _, h := range sipmsg.Headers(msg, "Path") {
		v := strings.TrimSpace(h.Value())
		if v == "" {
			continue
		}
		n += len(v) + 1
		if n > maxPathLen {
			return "", "", errParsePath
		}
		parts = append(parts, v)
	}
	if len(parts) == 0 {
		return "", "", nil
	}
	path = strings.Join(parts, ",")
	u, ok := firstPathURI(path)
	if !ok {
		return "", "", errParsePath
	}
	if _, lr := location.Param(u.UriParams, "lr"); !lr {
		return "", "", errParsePath
	}
	if m.PathUseReceived {
		if r, ok := location.Param(u.UriParams, "received"); ok {
			received = location.Unquote(r)
		}
	}
	return path, received, nil
}
