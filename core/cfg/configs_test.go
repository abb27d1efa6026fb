package cfg

import (
	"errors"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"sip-router.org/core/sr"
)

// The real configurations, read from the shared test data (never copied
// into the project).
const configDir = "../../../shared/testdata/configs/"

// parseConfig parses a shared config with the given -A names.
func parseConfig(t testing.TB, name string, defines []string) *File {
	t.Helper()
	defs := make(map[string]string)
	for _, d := range defines {
		defs[d] = ""
	}
	f, err := ParseFile(configDir+name, Options{Defines: defs})
	if err != nil {
		t.Fatalf("%s with %v: %v", name, defines, err)
	}
	return f
}

func loadModules(f *File) []string {
	var mods []string
	for _, it := range f.Items {
		if lm, ok := it.(*LoadModule); ok {
			mods = append(mods, strings.TrimSuffix(lm.Path, ".so"))
		}
	}
	return mods
}

// routeNames lists the route blocks as "keyword[name]" or "keyword".
func routeNames(f *File) []string {
	var names []string
	for _, r := range f.Routes {
		if r.Name == "" {
			names = append(names, r.Keyword)
		} else {
			names = append(names, r.Keyword+"["+r.Name+"]")
		}
	}
	return names
}

func findRoute(f *File, typ sr.RouteType, name string) *Route {
	for _, r := range f.Routes {
		if r.Type == typ && r.Name == name {
			return r
		}
	}
	return nil
}

// calls lists the names of the functions called under n.
func calls(n Node) []string {
	var names []string
	Inspect(n, func(n Node) bool {
		if c, ok := n.(*Call); ok {
			names = append(names, c.Name)
		}
		return true
	})
	return names
}

func global(f *File, name string) *Value {
	var v *Value
	for _, it := range f.Items {
		if g, ok := it.(*Global); ok && g.Name == name {
			v = g.Value
		}
	}
	return v
}

func modparam(f *File, mod, param string) *Value {
	for _, it := range f.Items {
		if mp, ok := it.(*ModParam); ok && mp.Module == mod && mp.Param == param {
			return mp.Value
		}
	}
	return nil
}

// checkPositions asserts that every node carries a real position.
func checkPositions(t *testing.T, f *File) {
	t.Helper()
	n := 0
	Inspect(f, func(node Node) bool {
		n++
		if p := node.Position(); p.File == "" || p.Line < 1 || p.Col < 1 {
			t.Errorf("%T has no position: %+v", node, p)
		}
		return true
	})
	if n < 100 {
		t.Errorf("only %d nodes", n)
	}
}

func has(list []string, s string) bool { return slices.Contains(list, s) }

func TestKamailio30(t *testing.T) {
	base := []string{"mi_fifo", "kex", "tm", "tmx", "sl", "rr", "pv", "maxfwd", "usrloc",
		"registrar", "textops", "uri_db", "siputils", "xlog", "sanity", "ctl", "mi_rpc", "acc"}
	routes := []string{"route", "route[RELAY]", "route[PRESENCE]", "route[AUTH]", "route[NAT]",
		"route[RTPPROXY]", "route[PSTN]", "branch_route[BRANCH_ONE]", "onreply_route[REPLY_ONE]",
		"failure_route[FAIL_ONE]"}
	all := []string{"WITH_DEBUG", "WITH_MYSQL", "WITH_AUTH", "WITH_USRLOCDB", "WITH_PRESENCE",
		"WITH_NAT", "WITH_PSTN", "WITH_ACCDB"}
	cases := [][]string{nil}
	for _, d := range all {
		cases = append(cases, []string{d})
	}
	cases = append(cases, all)
	for _, defs := range cases {
		name := strings.Join(defs, "+")
		if len(defs) == 0 {
			name = "none"
		} else if len(defs) == len(all) {
			name = "all"
		}
		t.Run(name, func(t *testing.T) {
			f := parseConfig(t, "kamailio-3.0.0.cfg", defs)
			on := func(d string) bool { return has(defs, d) }

			want := slices.Clone(base)
			if on("WITH_MYSQL") {
				want = append([]string{"db_mysql"}, want...)
			}
			if on("WITH_AUTH") {
				want = append(want, "auth", "auth_db")
			}
			if on("WITH_PRESENCE") {
				want = append(want, "presence", "presence_xml")
			}
			if on("WITH_NAT") {
				want = append(want, "nathelper")
			}
			if got := loadModules(f); !slices.Equal(got, want) {
				t.Errorf("loadmodule:\n got %v\nwant %v", got, want)
			}
			if got := routeNames(f); !slices.Equal(got, routes) {
				t.Errorf("routes:\n got %v\nwant %v", got, routes)
			}
			if len(f.Modes) != 1 || f.Modes[0].Mode != ModeKamailio || f.Modes[0].Pos.Line != 1 {
				t.Errorf("modes = %+v, want KAMAILIO at line 1", f.Modes)
			}

			debug := 2
			if on("WITH_DEBUG") {
				debug = 4
			}
			if v := global(f, "debug"); v == nil || v.Kind != ValInt || v.Int != debug {
				t.Errorf("debug = %+v, want %d", v, debug)
			}
			auth := calls(findRoute(f, sr.RouteRequest, "AUTH"))
			if got := has(auth, "www_authorize"); got != on("WITH_AUTH") {
				t.Errorf("route[AUTH] calls www_authorize: %v, want %v (calls %v)", got, on("WITH_AUTH"), auth)
			}
			if got := has(calls(findRoute(f, sr.RouteRequest, "NAT")), "fix_nated_register"); got != on("WITH_NAT") {
				t.Errorf("route[NAT] calls fix_nated_register: %v", got)
			}
			if got := modparam(f, "usrloc", "db_mode"); (got != nil) != on("WITH_USRLOCDB") || (got != nil && got.Int != 2) {
				t.Errorf("usrloc db_mode = %+v", got)
			}
			if got := modparam(f, "acc", "db_url"); (got != nil) != on("WITH_ACCDB") {
				t.Errorf("acc db_url = %+v", got)
			}
			var pstn *CustomVar
			for _, it := range f.Items {
				if cv, ok := it.(*CustomVar); ok {
					pstn = cv
				}
			}
			if (pstn != nil) != on("WITH_PSTN") || (pstn != nil && (pstn.Group != "pstn" || pstn.Name != "gw_ip" || pstn.Desc != "PSTN GW Address")) {
				t.Errorf("pstn.gw_ip = %+v", pstn)
			}
			// The main route switches on $rc with three labels.
			var sw *Switch
			Inspect(f.Routes[0], func(n Node) bool {
				if s, ok := n.(*Switch); ok {
					sw = s
				}
				return true
			})
			if sw == nil || len(sw.Cases) != 3 || sw.X.(*PV).Text != "$rc" {
				t.Errorf("switch in the main route: %+v", sw)
			}
			checkPositions(t, f)
		})
	}
}

func TestKamailio56(t *testing.T) {
	base := []string{"jsonrpcs", "kex", "corex", "tm", "tmx", "sl", "rr", "pv", "maxfwd",
		"usrloc", "registrar", "textops", "textopsx", "siputils", "xlog", "sanity", "ctl",
		"cfg_rpc", "acc", "counters"}
	routes := []string{"request_route", "route[RELAY]", "route[REQINIT]", "route[WITHINDLG]",
		"route[REGISTRAR]", "route[LOCATION]", "route[PRESENCE]", "route[AUTH]",
		"route[NATDETECT]", "route[NATMANAGE]", "route[DLGURI]", "route[SIPOUT]", "route[PSTN]",
		"route[TOVOICEMAIL]", "branch_route[MANAGE_BRANCH]", "reply_route",
		"onreply_route[MANAGE_REPLY]", "failure_route[MANAGE_FAILURE]"}
	all := []string{"WITH_MYSQL", "WITH_AUTH", "WITH_IPAUTH", "WITH_USRLOCDB", "WITH_NAT",
		"WITH_ANTIFLOOD", "WITH_TLS", "WITH_DEBUG"}
	// WITH_AUTH and WITH_USRLOCDB use DBURL, which only WITH_MYSQL defines.
	cases := [][]string{nil, {"WITH_MYSQL"}, {"WITH_MYSQL", "WITH_AUTH"},
		{"WITH_MYSQL", "WITH_AUTH", "WITH_IPAUTH"}, {"WITH_MYSQL", "WITH_USRLOCDB"},
		{"WITH_NAT"}, {"WITH_ANTIFLOOD"}, {"WITH_TLS"}, {"WITH_DEBUG"}, all}
	for _, defs := range cases {
		name := strings.Join(defs, "+")
		if len(defs) == 0 {
			name = "none"
		} else if len(defs) == len(all) {
			name = "all"
		}
		t.Run(name, func(t *testing.T) {
			f := parseConfig(t, "kamailio-5.6.3.cfg", defs)
			on := func(d string) bool { return has(defs, d) }

			want := slices.Clone(base)
			if on("WITH_MYSQL") {
				want = append([]string{"db_mysql"}, want...)
			}
			if on("WITH_AUTH") {
				want = append(want, "auth", "auth_db")
				if on("WITH_IPAUTH") {
					want = append(want, "permissions")
				}
			}
			if on("WITH_NAT") {
				want = append(want, "nathelper", "rtpproxy")
			}
			if on("WITH_TLS") {
				want = append(want, "tls")
			}
			if on("WITH_ANTIFLOOD") {
				want = append(want, "htable", "pike")
			}
			if on("WITH_DEBUG") {
				want = append(want, "debugger")
			}
			if got := loadModules(f); !slices.Equal(got, want) {
				t.Errorf("loadmodule:\n got %v\nwant %v", got, want)
			}
			if got := routeNames(f); !slices.Equal(got, routes) {
				t.Errorf("routes:\n got %v\nwant %v", got, routes)
			}

			debug := 2 // DBGLEVEL
			if on("WITH_DEBUG") {
				debug = 3
			}
			if v := global(f, "debug"); v == nil || v.Int != debug {
				t.Errorf("debug = %+v, want %d", v, debug)
			}
			// FLT_ACC and friends are #!define'd numbers.
			if v := modparam(f, "acc", "log_flag"); v == nil || v.Kind != ValInt || v.Int != 1 || v.Text != "1" {
				t.Errorf("acc log_flag = %+v", v)
			}
			if v := modparam(f, "acc", "log_extra"); v == nil ||
				v.Text != "src_user=$fU;src_domain=$fd;src_ip=$si;dst_ouser=$tU;dst_user=$rU;dst_domain=$rd" {
				t.Errorf("acc log_extra (joined strings) = %+v", v)
			}
			if on("WITH_MYSQL") && on("WITH_AUTH") {
				if v := modparam(f, "auth_db", "db_url"); v == nil || v.Text != "mysql://kamailio:kamailiorw@localhost/kamailio" {
					t.Errorf("auth_db db_url = %+v", v)
				}
			}
			auth := calls(findRoute(f, sr.RouteRequest, "AUTH"))
			if got := has(auth, "auth_check"); got != on("WITH_AUTH") {
				t.Errorf("route[AUTH] calls auth_check: %v, want %v", got, on("WITH_AUTH"))
			}
			if got := has(auth, "allow_source_address"); got != (on("WITH_AUTH") && on("WITH_IPAUTH")) {
				t.Errorf("route[AUTH] calls allow_source_address: %v", got)
			}
			ban := false
			Inspect(findRoute(f, sr.RouteRequest, "REQINIT"), func(n Node) bool {
				if a, ok := n.(*Assign); ok && a.LHS.Text == "$sht(ipban=>$si)" {
					ban = true
				}
				return true
			})
			if ban != on("WITH_ANTIFLOOD") {
				t.Errorf("route[REQINIT] sets $sht(ipban=>$si): %v", ban)
			}
			if v := global(f, "enable_tls"); (v != nil) != on("WITH_TLS") {
				t.Errorf("enable_tls = %+v", v)
			}
			// setflag(FLT_ACC) became setflag(1), at the position of FLT_ACC.
			var flag *Value
			Inspect(f.Routes[0], func(n Node) bool {
				if c, ok := n.(*Call); ok && c.Name == "setflag" && flag == nil {
					flag = c.Args[0]
				}
				return true
			})
			if flag == nil || flag.Kind != ValInt || flag.Int != 1 || flag.Pos.Line != 545 || flag.Pos.Col != 11 {
				t.Errorf("setflag(FLT_ACC) argument = %+v", flag)
			}
			checkPositions(t, f)
		})
	}
}

// Without WITH_MYSQL, DBURL is not defined and the modparams that use it
// are errors, as in Kamailio.
func TestKamailio56MissingDefine(t *testing.T) {
	_, err := ParseFile(configDir+"kamailio-5.6.3.cfg", Options{Defines: map[string]string{"WITH_AUTH": ""}})
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("err = %v, want an ErrorList", err)
	}
	if len(list) != 1 || list[0].Pos.Line != 414 || list[0].Pos.Col != 31 ||
		!strings.Contains(list[0].Err.Error(), `found identifier "DBURL"`) {
		t.Errorf("err = %v, want the DBURL of the auth_db modparam at 414:31", err)
	}
}

func TestSER303(t *testing.T) {
	f := parseConfig(t, "ser-3.0.3.cfg", nil)
	want := []string{"db_mysql", "sl", "tm", "rr", "maxfwd", "usrloc", "registrar", "xlog",
		"textops", "ctl", "cfg_rpc", "auth", "auth_db", "gflags", "domain", "uri_db", "avp",
		"avp_db", "acc_db", "xmlrpc"}
	if got := loadModules(f); !slices.Equal(got, want) {
		t.Errorf("loadmodule:\n got %v\nwant %v", got, want)
	}
	routes := []string{"route", "route[FORWARD]", "route[INIT]", "route[RPC]", "route[RR]",
		"route[DOMAIN]", "route[REGISTRAR]", "route[AUTHENTICATION]", "route[OUTBOUND]",
		"route[INBOUND]", "route[PSTN]", "route[CATCH_CANCEL]", "failure_route[FAILURE_ROUTE]"}
	if got := routeNames(f); !slices.Equal(got, routes) {
		t.Errorf("routes:\n got %v\nwant %v", got, routes)
	}
	if len(f.Modes) != 0 {
		t.Errorf("modes = %v, want none (max compat)", f.Modes)
	}
	var decls []string
	for _, it := range f.Items {
		switch it := it.(type) {
		case *LoadPath:
			if it.Keyword != "loadpath" || it.Path != "/usr/lib/ser/modules:/usr/lib/ser/modules_s" {
				t.Errorf("loadpath = %+v", it)
			}
		case *FlagDecl:
			for _, fl := range it.Flags {
				decls = append(decls, it.Keyword+" "+flagString(fl))
			}
		}
	}
	if want := []string{"flags FLAG_ACC:1", "flags FLAG_FAILUREROUTE:2", "avpflags dialog_cookie"}; !slices.Equal(decls, want) {
		t.Errorf("flag declarations = %v, want %v", decls, want)
	}
	if v := modparam(f, "xmlrpc", "route"); v == nil || v.Text != "RPC" {
		t.Errorf("xmlrpc route = %+v", v)
	}
	// Attributes and selects, all in max compat mode.
	pvs := map[string]PVKind{}
	var sels []string
	Inspect(f, func(n Node) bool {
		switch n := n.(type) {
		case *PV:
			if n.Mode != ModeMaxCompat {
				t.Errorf("%s: mode %v", n.Text, n.Mode)
			}
			pvs[n.Text] = n.Kind
		case *Select:
			sels = append(sels, n.Text)
		}
		return true
	})
	for text, kind := range map[string]PVKind{"$account": PVVarOrAttr, "$f.did": PVAttr,
		"$fu.uid": PVAttr, "$fr.authuid": PVAttr, "$t.fr_inv_timer": PVAttr, "$?": PVVar} {
		if got, ok := pvs[text]; !ok || got != kind {
			t.Errorf("%s: kind %v (seen %v), want %v", text, got, ok, kind)
		}
	}
	sort.Strings(sels)
	if want := []string{"@to.tag", "@to.tag"}; !slices.Equal(sels, want) {
		t.Errorf("selects = %v, want %v", sels, want)
	}
	if got := calls(findRoute(f, sr.RouteRequest, "FORWARD")); !has(got, "t_on_failure") || !has(got, "append_branch") {
		t.Errorf("route[FORWARD] calls %v", got)
	}
	checkPositions(t, f)
}

func TestSERBasic303(t *testing.T) {
	f := parseConfig(t, "ser-basic-3.0.3.cfg", nil)
	want := []string{"sl", "tm", "rr", "textops", "maxfwd", "usrloc", "registrar", "ctl", "cfg_rpc"}
	if got := loadModules(f); !slices.Equal(got, want) {
		t.Errorf("loadmodule:\n got %v\nwant %v", got, want)
	}
	if got := routeNames(f); !slices.Equal(got, []string{"route", "route[FORWARD]"}) {
		t.Errorf("routes = %v", got)
	}
	var breaks, msglen, notMethod int
	Inspect(f.Routes[0], func(n Node) bool {
		switch n := n.(type) {
		case *Break:
			breaks++
		case *Elem:
			if n.Name == "msg:len" && n.Op == ">=" {
				msglen++
			}
		case *Unary:
			if e, ok := n.X.(*Elem); ok && n.Op == "!" && e.Name == "method" {
				notMethod++
			}
		}
		return true
	})
	if breaks != 6 || msglen != 1 || notMethod != 1 {
		t.Errorf("main route: %d break, %d msg:len, %d !method==; want 6, 1, 1", breaks, msglen, notMethod)
	}
	checkPositions(t, f)
}

func BenchmarkParseKamailio56(b *testing.B) {
	src, err := os.ReadFile(configDir + "kamailio-5.6.3.cfg")
	if err != nil {
		b.Fatal(err)
	}
	opts := Options{
		Defines:  map[string]string{"WITH_MYSQL": "", "WITH_AUTH": "", "WITH_NAT": ""},
		ReadFile: memFiles(nil), // import_file "kamailio-local.cfg" finds nothing
	}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("kamailio.cfg", src, opts); err != nil {
			b.Fatal(err)
		}
	}
}
