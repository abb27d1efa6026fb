package script_test

import (
	"testing"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/siptest"
	"sip-router.org/core/sr"
)

// benchScript is a request route of the shape real configs have: checks on
// the message, PV reads, a regex, an assignment, a sub-route, and a
// stateless forward (to the recording fake core).
const benchScript = `#!KAMAILIO
route {
	if (msg:len > 8192) { drop; }
	if (!method == "INVITE|ACK|BYE|CANCEL|OPTIONS|REGISTER" && method == "PUBLISH") { drop; }
	route(CHECKS);
	if (uri == myself && $rU == $null) { drop; }
	$var(dst) = "sip:" + $rU + "@192.0.2.50:5070";
	if ($rU =~ "^\+?[0-9]+$") { setflag(5); }
	$du = "sip:192.0.2.50:5070";
	forward();
}
route[CHECKS] {
	if (src_ip == 10.0.0.0/8) { return(-1); }
	if ($fd == "") { return(-1); }
	return(1);
}
`

// BenchmarkParseAndRun measures one request end to end inside the
// process: parse the datagram (sipgo parser with our header parsers) and
// run the script over it, including the copy that forward() sends.
func BenchmarkParseAndRun(b *testing.B) {
	s := siptest.NewScript(b, benchScript)
	raw := siptest.Normalize(invite)
	parser := sipmsg.NewParser(0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		msg, err := parser.ParseSIP(raw)
		if err != nil {
			b.Fatal(err)
		}
		c := s.Ctx(msg, "", "")
		s.Loaded.Script.Run(c, sr.RouteRequest, "")
		if i%1024 == 0 {
			s.Core.Reset()
		}
	}
}

// BenchmarkRunOnly is BenchmarkParseAndRun without the parse: the cost
// of the script itself.
func BenchmarkRunOnly(b *testing.B) {
	s := siptest.NewScript(b, benchScript)
	req := siptest.Request(b, invite)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := s.Ctx(req, "", "")
		s.Loaded.Script.Run(c, sr.RouteRequest, "")
		if i%1024 == 0 {
			s.Core.Reset()
		}
	}
}
