package dbtest

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/db/schema"
)

// BenchQueryRow measures the statement an authenticated REGISTER makes:
// one row of subscriber by username and domain, read through the
// handle's QueryRow, over a table of 1000 users on the database at url.
// Besides the wall time (which includes the server's work and the round
// trips), it reports cpu-ns/op: the CPU the client process spent per
// statement, the figure the proxy pays.
func BenchQueryRow(b *testing.B, url string) {
	d := Open(b, url)
	ctx := context.Background()
	if err := db.CreateTables(ctx, d, []*schema.Table{Subscriber()}); err != nil {
		b.Fatalf("create subscriber: %v", err)
	}
	err := d.WithTx(ctx, func(tx *db.Tx) error {
		for i := range 1000 {
			if _, err := tx.Exec(ctx, "INSERT INTO subscriber (username, domain, password, ha1, ha1b) VALUES (?, ?, ?, ?, ?)",
				fmt.Sprintf("user%04d", i), "example.com", "pw", "0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatalf("fill subscriber: %v", err)
	}
	const q = "SELECT ha1, password FROM subscriber WHERE username = ? AND domain = ?"
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU(b)
	for i := range b.N {
		var ha1, pw string
		if err := d.QueryRow(ctx, q, fmt.Sprintf("user%04d", i%1000), "example.com").Scan(&ha1, &pw); err != nil {
			b.Fatalf("query: %v", err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((processCPU(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// processCPU is the CPU time (user and system) of the test process: the
// client's share of a statement, without the server's.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
