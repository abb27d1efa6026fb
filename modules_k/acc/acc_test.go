package acc_test

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/module"
	"sip-router.org/core/siptest"
	_ "sip-router.org/modules/db_sqlite"
	_ "sip-router.org/modules/tm"
	_ "sip-router.org/modules_k/acc"
)

const wait = 3 * time.Second

func invite(callID string) string {
	return `
INVITE sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP PEER;branch=z9hG4bK-` + callID + `;rport
From: <sip:alice@example.org>;tag=ft-` + callID + `
To: <sip:bob@example.com>
Call-ID: ` + callID + `
CSeq: 1 INVITE
Max-Forwards: 70
Contact: <sip:alice@PEER>
`
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A transaction with log_flag set is logged when answered; one with
// log_missed_flag set and a negative final reply is logged as missed; the
// extras are expanded on the transaction's request.
func TestLogAccounting(t *testing.T) {
	uac, uas := siptest.NewPeer(t), siptest.NewPeer(t)
	srv := siptest.Start(t, uas.Expand(`
loadmodule "tm.so"
loadmodule "acc.so"
modparam("acc", "log_flag", 1)
modparam("acc", "log_missed_flag", 2)
modparam("acc", "log_extra", "src_user=$fU;dst_user=$rU")
route {
	setflag(1);
	setflag(2);
	t_relay("udp:PEER");
}
`))
	for _, tc := range []struct {
		callID string
		code   int
		want   string
	}{
		{"acc-ok", 200, "ACC: transaction answered: "},
		{"acc-busy", 486, "ACC: call missed: "},
	} {
		uac.Send(srv.UDP, uac.Expand(invite(tc.callID)))
		req := uas.ExpectRequest(wait, "INVITE")
		uas.Reply(req, tc.code, "Test", "tt")
		uac.ExpectReply(wait, tc.code)
		waitFor(t, tc.want+tc.callID, func() bool {
			for _, l := range strings.Split(srv.Log(), "\n") {
				if strings.Contains(l, tc.want) && strings.Contains(l, "call_id="+tc.callID) {
					for _, w := range []string{"method=INVITE", "code=" + strconv.Itoa(tc.code), "src_user=alice", "dst_user=bob", "from_tag=ft-" + tc.callID, "to_tag=tt"} {
						if !strings.Contains(l, w) {
							t.Errorf("accounting line lacks %q: %s", w, l)
						}
					}
					return true
				}
			}
			return false
		})
	}
	// The 486 is a failed transaction: without failed_transaction_flag it
	// is not also logged as answered.
	if strings.Contains(srv.Log(), "transaction answered: ") && strings.Count(srv.Log(), "ACC: transaction answered") != 1 {
		t.Errorf("a failed transaction was logged as answered:\n%s", srv.Log())
	}
}

// DB accounting writes the acc and missed_calls rows with the extras.
func TestDBAccounting(t *testing.T) {
	dbFile := filepath.Join(t.TempDir(), "acc.db")
	url := "sqlite://" + dbFile
	ctx := context.Background()
	d, err := db.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := module.Lookup("acc")
	if err := db.CreateTables(ctx, d, m.TableDefs); err != nil {
		t.Fatal(err)
	}
	// db_extra columns are the operator's to add, as the 3.0 default
	// config explains.
	for _, table := range []string{"acc", "missed_calls"} {
		if _, err := d.Exec(ctx, `ALTER TABLE `+table+` ADD COLUMN src_user VARCHAR(64) NOT NULL DEFAULT ''`); err != nil {
			t.Fatal(err)
		}
	}
	uac, uas := siptest.NewPeer(t), siptest.NewPeer(t)
	srv := siptest.Start(t, uas.Expand(`
loadmodule "db_sqlite.so"
loadmodule "tm.so"
loadmodule "acc.so"
modparam("acc", "db_url", "`+url+`")
modparam("acc", "db_flag", 1)
modparam("acc", "db_missed_flag", 2)
modparam("acc", "db_extra", "src_user=$fU")
route {
	setflag(1);
	setflag(2);
	t_relay("udp:PEER");
}
`))
	for _, tc := range []struct {
		callID string
		code   int
	}{{"db-ok", 200}, {"db-busy", 603}} {
		uac.Send(srv.UDP, uac.Expand(invite(tc.callID)))
		req := uas.ExpectRequest(wait, "INVITE")
		uas.Reply(req, tc.code, "Test", "tt")
		uac.ExpectReply(wait, tc.code)
	}
	count := func(q string, args ...any) int {
		var n int
		if err := d.QueryRow(ctx, q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	waitFor(t, "the acc row", func() bool {
		return count(`SELECT COUNT(*) FROM acc WHERE callid = ? AND sip_code = '200' AND src_user = 'alice' AND method = 'INVITE'`, "db-ok") == 1
	})
	waitFor(t, "the missed_calls row", func() bool {
		return count(`SELECT COUNT(*) FROM missed_calls WHERE callid = ? AND sip_code = '603'`, "db-busy") == 1
	})
	if n := count(`SELECT COUNT(*) FROM acc WHERE callid = ?`, "db-busy"); n != 0 {
		t.Errorf("the failed call is in acc too (%d rows) without failed_transaction_flag", n)
	}
	d.Close()
}

// A config with a bad extra or a DB URL without its driver module fails to load.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ cfg, want string }{
		{`modparam("acc", "log_extra", "src_user")`, "log_extra: extra \"src_user\": want name=$pv"},
		{`modparam("acc", "log_flag", "NOSUCH")`, `"NOSUCH" is neither a flag number nor a declared flag name`},
		{`modparam("acc", "db_flag", 1)
modparam("acc", "db_url", "nosuch://x/db")`, `unknown database scheme "nosuch"`},
	} {
		_, err := siptest.LoadErr(t, "loadmodule \"tm.so\"\nloadmodule \"acc.so\"\n"+tc.cfg+"\n")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.cfg, err, tc.want)
		}
	}
}
