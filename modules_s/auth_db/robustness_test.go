package authdb_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
	"sip-router.org/modules_s/avp/sertest"
	"sip-router.org/modules_s/usrloc"
)

// TestTortureMessages runs the RFC 4475 torture messages that parse
// through every function of usrloc, registrar, auth and auth_db: none may
// panic, whatever header is missing, doubled or strange.
func TestTortureMessages(t *testing.T) {
	dir := ""
	for _, p := range []string{"../../../shared/testdata/rfc4475", "/work/shared/testdata/rfc4475"} {
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			dir = p
			break
		}
	}
	if dir == "" {
		t.Skip("shared/testdata/rfc4475 not found")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.dat"))
	if len(files) == 0 {
		t.Skip("no torture messages")
	}
	b := sertest.Backends[0]
	url, _ := credDB(t, b)
	sertest.Create(t, url, usrloc.Location())
	s := authScript(t, b, url, `loadmodule "usrloc"
loadmodule "registrar"
modparam("usrloc", "db_url", "`+url+`")
modparam("usrloc", "db_mode", 1)
modparam("registrar", "save_nat_flag", 3)
modparam("auth_db", "calculate_ha1", 1)`, `
	setflag(3);
	www_authenticate("", "credentials");
	proxy_authenticate("$fd.digest_realm", "credentials");
	consume_credentials();
	save_contacts_noreply("location");
	save_contacts("location", "@to.uri");
	lookup_contacts("location");
	lookup_contacts("location", "$t.aor");
	registered("location")`)
	parsed := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := sipmsg.NewParser(0).ParseSIP(data)
		if err != nil {
			continue
		}
		req, ok := msg.(*sip.Request)
		if !ok {
			continue
		}
		parsed++
		for _, method := range []sip.RequestMethod{req.Method, sip.REGISTER} {
			r := req.Clone()
			r.Method = method
			t.Run(fmt.Sprintf("%s %s", filepath.Base(f), method), func(t *testing.T) {
				c := s.Ctx(r, "", "")
				s.Loaded.Script.Run(c, sr.RouteRequest, "")
			})
		}
	}
	if parsed == 0 {
		t.Error("no torture message parsed")
	}
}
