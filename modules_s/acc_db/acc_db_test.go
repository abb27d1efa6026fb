package accdb_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/siptest"
	_ "sip-router.org/modules/tm"
	accdb "sip-router.org/modules_s/acc_db"
	"sip-router.org/modules_s/avp/sertest"
)

const wait = 3 * time.Second

func invite(callID string) string {
	return `
INVITE sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP PEER;branch=z9hG4bK-` + callID + `;rport
From: "Alice" <sip:Alice@example.org>;tag=ft-` + callID + `
To: <sip:bob@example.com>
Call-ID: ` + callID + `
CSeq: 7 INVITE
Max-Forwards: 70
Contact: <sip:alice@PEER>
Proxy-Authorization: Digest username="alice", realm="example.org", nonce="n", uri="sip:bob@example.com", response="00"
`
}

type row struct {
	fromUID, toUID, fromDID, toDID, method, callID, fromTag, toTag, user, realm, attrs sql.NullString
	status, cseq, srcIP, srcPort                                                       sql.NullInt64
	inRURI, outRURI, fromURI, toURI, sipFrom, sipTo                                    sql.NullString
}

func readRow(t *testing.T, d *db.DB, table, callID string) (row, bool) {
	t.Helper()
	var r row
	err := d.QueryRow(context.Background(), `SELECT from_uid, to_uid, from_did, to_did, sip_method, sip_callid, from_tag, to_tag,
		digest_username, digest_realm, attrs, sip_status, sip_cseq, src_ip, src_port, in_ruri, out_ruri, from_uri, to_uri, sip_from, sip_to
		FROM `+table+` WHERE sip_callid = ?`, callID).Scan(&r.fromUID, &r.toUID, &r.fromDID, &r.toDID, &r.method, &r.callID,
		&r.fromTag, &r.toTag, &r.user, &r.realm, &r.attrs, &r.status, &r.cseq, &r.srcIP, &r.srcPort, &r.inRURI, &r.outRURI,
		&r.fromURI, &r.toURI, &r.sipFrom, &r.sipTo)
	if err == sql.ErrNoRows {
		return r, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return r, true
}

// Transactions with log_flag set are written to acc when they complete;
// failed INVITEs with log_missed_flag to missed_calls (and to acc only
// with failed_transactions).
func TestCompletion(t *testing.T) {
	for _, failed := range []int{0, 1} {
		t.Run(fmt.Sprintf("failed_transactions=%d", failed), func(t *testing.T) {
			url := sertest.Backends[0].NewDB(t)
			d := sertest.Create(t, url, accdb.Tables()...)
			uac, uas := siptest.NewPeer(t), siptest.NewPeer(t)
			srv := siptest.Start(t, uas.Expand(fmt.Sprintf(`
loadmodule "db_sqlite"
loadmodule "tm"
loadmodule "acc_db"
flags FLAG_ACC : 3, FLAG_MISSED : 4;
modparam("acc_db", "db_url", "%s")
modparam("acc_db", "log_flag", "FLAG_ACC")
modparam("acc_db", "log_missed_flag", "FLAG_MISSED")
modparam("acc_db", "failed_transactions", %d)
modparam("acc_db", "attrs", "$account, $t.missing")
route {
	$fu.uid = "u-alice";
	$tu.uid = "u-bob";
	$fd.did = "d-from";
	$td.did = "d-to";
	$account = "yes, sure";
	setflag(FLAG_ACC);
	setflag(FLAG_MISSED);
	t_relay("udp:PEER");
}
`, url, failed)))
			for _, tc := range []struct {
				callID string
				code   int
			}{{"acc-ok", 200}, {"acc-busy", 486}} {
				uac.Send(srv.UDP, uac.Expand(invite(tc.callID)))
				req := uas.ExpectRequest(wait, "INVITE")
				uas.Reply(req, tc.code, "Test", "tt")
				uac.ExpectReply(wait, tc.code)
			}
			sertest.WaitFor(t, "the acc row", func() bool {
				_, ok := readRow(t, d, "acc", "acc-ok")
				return ok
			})
			sertest.WaitFor(t, "the missed_calls row", func() bool {
				_, ok := readRow(t, d, "missed_calls", "acc-busy")
				return ok
			})
			r, _ := readRow(t, d, "acc", "acc-ok")
			for _, c := range []struct {
				col  string
				got  any
				want any
			}{
				{"from_uid", r.fromUID.String, "u-alice"}, {"to_uid", r.toUID.String, "u-bob"},
				{"from_did", r.fromDID.String, "d-from"}, {"to_did", r.toDID.String, "d-to"},
				{"sip_method", r.method.String, "INVITE"}, {"from_tag", r.fromTag.String, "ft-acc-ok"},
				{"to_tag", r.toTag.String, "tt"}, {"digest_username", r.user.String, "alice"},
				{"digest_realm", r.realm.String, "example.org"}, {"attrs", r.attrs.String, `account:yes\c sure`},
				{"sip_status", r.status.Int64, int64(200)}, {"sip_cseq", r.cseq.Int64, int64(7)},
				{"src_ip", r.srcIP.Int64, int64(127<<24 | 1)}, {"src_port", r.srcPort.Int64, int64(uac.Port())},
				{"out_ruri", r.outRURI.String, "sip:bob@example.com"}, {"from_uri", r.fromURI.String, "sip:Alice@example.org"},
				{"to_uri", r.toURI.String, "sip:bob@example.com"},
			} {
				if c.got != c.want {
					t.Errorf("acc %s = %v, want %v", c.col, c.got, c.want)
				}
			}
			if !strings.Contains(r.sipFrom.String, "Alice") || !strings.Contains(r.sipTo.String, "tag=tt") {
				t.Errorf("sip_from %q, sip_to %q", r.sipFrom.String, r.sipTo.String)
			}
			m, _ := readRow(t, d, "missed_calls", "acc-busy")
			if m.status.Int64 != 486 || m.toUID.String != "u-bob" {
				t.Errorf("missed_calls: status %v, to_uid %v", m.status, m.toUID)
			}
			if _, ok := readRow(t, d, "missed_calls", "acc-ok"); ok {
				t.Error("the answered call is in missed_calls")
			}
			// The failed transaction goes to acc only with failed_transactions.
			if failed == 1 {
				sertest.WaitFor(t, "the failed transaction in acc", func() bool {
					_, ok := readRow(t, d, "acc", "acc-busy")
					return ok
				})
			} else if _, ok := readRow(t, d, "acc", "acc-busy"); ok {
				t.Error("the failed transaction is in acc without failed_transactions")
			}
		})
	}
}

// acc_db_log and acc_db_missed write the request at once, on every
// backend; log_fmt picks the columns.
func TestScriptFunctions(t *testing.T) {
	sertest.ForEach(t, func(t *testing.T, b sertest.Backend) {
		url := b.NewDB(t)
		d := sertest.Create(t, url, accdb.Tables()...)
		s := siptest.NewScript(t, fmt.Sprintf(`
loadmodule "%s"
loadmodule "tm"
loadmodule "acc_db"
modparam("acc_db", "db_url", "%s")
modparam("acc_db", "log_fmt", "cmnSiotxXFIU")
route {
	$var(a) = acc_db_log("404");
	$var(m) = acc_db_missed();
	$code = "603";
	$var(c) = acc_db_missed($code);
}
`, b.Module, url))
		c := s.Run(t, strings.NewReplacer("PEER", "192.0.2.10:5060").Replace(invite("script-1")))
		if c.Vars["a"].I != 1 || c.Vars["m"].I != 1 || c.Vars["c"].I != 1 {
			t.Fatalf("results: %v %v %v", c.Vars["a"], c.Vars["m"], c.Vars["c"])
		}
		sertest.WaitFor(t, "three rows", func() bool {
			return sertest.Count(t, d, "SELECT COUNT(*) FROM acc WHERE sip_callid = 'script-1'")+
				sertest.Count(t, d, "SELECT COUNT(*) FROM missed_calls WHERE sip_callid = 'script-1'") == 3
		})
		if n := sertest.Count(t, d, "SELECT COUNT(*) FROM acc WHERE sip_status = 404 AND sip_method = 'INVITE' AND from_uid = 'alice' AND to_uid = 'bob' AND sip_cseq = 7"); n != 1 {
			t.Errorf("acc row: %d", n)
		}
		if n := sertest.Count(t, d, "SELECT COUNT(*) FROM missed_calls WHERE sip_status IS NULL AND digest_username IS NULL"); n != 1 {
			t.Errorf("missed_calls row without code: %d", n)
		}
		if n := sertest.Count(t, d, "SELECT COUNT(*) FROM missed_calls WHERE sip_status = 603"); n != 1 {
			t.Errorf("missed_calls row with code from an attribute: %d", n)
		}
	})
}

// A CANCEL is not accounted unless report_cancels is set.
func TestReportCancels(t *testing.T) {
	for _, report := range []int{0, 1} {
		url := sertest.Backends[0].NewDB(t)
		d := sertest.Create(t, url, accdb.Tables()...)
		s := siptest.NewScript(t, fmt.Sprintf(`
loadmodule "db_sqlite"
loadmodule "tm"
loadmodule "acc_db"
modparam("acc_db", "db_url", "%s")
modparam("acc_db", "report_cancels", %d)
route { $var(r) = acc_db_log(); }
`, url, report))
		cancel := strings.NewReplacer("PEER", "192.0.2.10:5060", "INVITE", "CANCEL").Replace(invite("cancel-1"))
		s.Run(t, strings.Replace(cancel, "\nProxy-Authorization", "\nX-Skip", 1))
		s.Run(t, strings.NewReplacer("PEER", "192.0.2.10:5060", "cancel-1", "marker").Replace(invite("cancel-1")))
		sertest.WaitFor(t, "the marker row", func() bool {
			return sertest.Count(t, d, "SELECT COUNT(*) FROM acc WHERE sip_callid = 'marker'") == 1
		})
		if n := sertest.Count(t, d, "SELECT COUNT(*) FROM acc WHERE sip_method = 'CANCEL'"); n != report {
			t.Errorf("report_cancels %d: %d CANCEL rows", report, n)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ cfg, want string }{
		{`modparam("acc_db", "log_fmt", "cmZ")`, `log_fmt: invalid letter "Z"`},
		{`modparam("acc_db", "log_fmt", "cc")`, "given twice"},
		{`modparam("acc_db", "log_flag", "NOSUCH")`, `"NOSUCH" is neither a flag number nor a declared flag name`},
		{`modparam("acc_db", "log_flag", 32)`, "out of range"},
		{`modparam("acc_db", "attrs", "$x, $fx.y")`, "attrs"},
		{`route { acc_db_log("abc"); }`, "is not a status code"},
	} {
		_, err := siptest.LoadErr(t, "loadmodule \"db_sqlite\"\nloadmodule \"tm\"\nloadmodule \"acc_db\"\nmodparam(\"acc_db\", \"db_url\", \"sqlite:///tmp/x.db\")\n"+tc.cfg+"\n")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.cfg, err, tc.want)
		}
	}
	if _, err := siptest.LoadErr(t, "loadmodule \"tm\"\nloadmodule \"acc_db\"\n"); err == nil || !strings.Contains(err.Error(), "db_url is not set") {
		t.Errorf("no db_url: %v", err)
	}
}

func TestTables(t *testing.T) {
	if err := db.CheckTables(accdb.Tables()); err != nil {
		t.Fatal(err)
	}
	d := sertest.Create(t, sertest.Backends[0].NewDB(t), accdb.Tables()...)
	for _, table := range []string{"acc", "missed_calls"} {
		if v, err := db.TableVersion(context.Background(), d, table); err != nil || v != 4 {
			t.Errorf("%s version %d, %v", table, v, err)
		}
	}
}
