package schemas_test

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbtest/legacytest"
	"sip-router.org/core/db/schema"
	"sip-router.org/tools/schemas"

	_ "sip-router.org/modules/db_sqlite"
)

func all() []*schema.Table {
	var ts []*schema.Table
	for _, g := range schemas.Kamailio() {
		ts = append(ts, g.Tables...)
	}
	return ts
}

// The declarations are valid and render, with every migration, in every
// dialect.
func TestDeclarations(t *testing.T) {
	if err := db.CheckTables(all()); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"trusted": 5, "address": 3, "silo": 5, "gw": 10, "lcr": 3, "grp": 2, "re_grp": 1, "sip_trace": 2}
	for _, tb := range all() {
		if tb.Version != want[tb.Name] {
			t.Errorf("table %s: version %d, Kamailio 3.0 has %d", tb.Name, tb.Version, want[tb.Name])
		}
		delete(want, tb.Name)
		old := schemas.Oldest(tb.Name)
		if old == nil {
			t.Errorf("no oldest declaration of %s", tb.Name)
			continue
		}
		if err := db.CheckTables([]*schema.Table{old}); err != nil {
			t.Errorf("oldest %s: %v", tb.Name, err)
		}
		if len(tb.Migrations) > 0 && tb.Migrations[0].From != old.Version {
			t.Errorf("table %s: migrations start at %d, the oldest declaration has version %d", tb.Name, tb.Migrations[0].From, old.Version)
		}
	}
	if len(want) != 0 {
		t.Errorf("tables not declared: %v", want)
	}
	if schemas.Oldest("nope") != nil || schemas.Extra("ser") != nil || len(schemas.Extra("kamailio")) != 5 {
		t.Error("Oldest or Extra answer for what they do not know")
	}
	// OpenSER 1.0's versions, as its mysqldb.sh inserted them.
	for name, v := range map[string]int{"trusted": 1, "silo": 3, "gw": 3, "lcr": 1} {
		if got := schemas.Oldest(name).Version; got != v {
			t.Errorf("oldest %s: version %d, OpenSER 1.0 had %d", name, got, v)
		}
	}
}

// The declarations go through schema.json and back unchanged.
func TestDumpRoundTrip(t *testing.T) {
	dump, err := db.RenderDump(schemas.Kamailio())
	if err != nil {
		t.Fatal(err)
	}
	back, err := db.ParseDump(dump.JSON)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, schemas.Kamailio()) {
		t.Error("the legacy tables do not read back equal from their dump")
	}
}

// IPText is the dotted form of gw's old integer ip_addr.
func IPText(old string) string {
	n, err := strconv.ParseInt(old, 10, 64)
	if err != nil {
		return "bad " + old
	}
	u := uint32(n)
	return strconv.Quote(fmt.Sprintf("%d.%d.%d.%d", u&255, u>>8&255, u>>16&255, u>>24))
}

// ipValue makes distinct addresses, some with the high bit set (negative
// as a signed integer on PostgreSQL, which has no unsigned type).
func ipValue(i int, d *db.Dialect) any {
	u := uint32(10) | uint32(i%256)<<8 | uint32(i/256)<<16 | uint32(200+i%50)<<24
	if d == db.Postgres {
		return int64(int32(u))
	}
	return int64(u)
}

// LegacyTables are the tables of this package in their oldest version,
// as the migration tests fill and check them.
func LegacyTables() []*legacytest.Legacy {
	return []*legacytest.Legacy{
		{Old: schemas.Oldest("trusted"), New: schemas.Trusted(), Key: []string{"src_ip", "proto", "from_pattern"}},
		{Old: schemas.Oldest("silo"), New: schemas.Silo(), Key: []string{"mid"}, Renamed: map[string]string{"mid": "id"}},
		{Old: schemas.Oldest("gw"), New: schemas.Gw(), Key: []string{"gw_name"},
			Gen:     map[string]func(int, *db.Dialect) any{"ip_addr": ipValue},
			Convert: map[string]func(string) string{"ip_addr": IPText}},
		{Old: schemas.Oldest("lcr"), New: schemas.Lcr(), Key: []string{"prefix"}},
		{Old: schemas.Oldest("sip_trace"), New: schemas.SipTrace(), Key: []string{"id"}, Renamed: map[string]string{"date": "time_stamp"}},
		{Old: schemas.Oldest("grp"), New: schemas.Grp(), Key: []string{"username", "domain", "grp"}},
	}
}

func TestMigrateSQLite(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	url := "sqlite://" + filepath.Join(t.TempDir(), "legacy.db")
	d, err := db.OpenWith(ctx, url, db.Options{Maintenance: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	legacy := LegacyTables()
	var old, cur []*schema.Table
	for _, l := range legacy {
		old = append(old, l.Old)
		cur = append(cur, l.New)
	}
	if err := db.CreateTables(ctx, d, old); err != nil {
		t.Fatal(err)
	}
	before := map[string]legacytest.Rows{}
	for _, l := range legacy {
		legacytest.Fill(t, ctx, d, l, 300)
		before[l.Old.Name] = legacytest.Before(t, ctx, d, l)
	}
	rep, err := db.Migrate(ctx, d, cur, db.MigrateOptions{})
	if err != nil {
		t.Fatalf("migrate: %v\n%s", err, rep.SQL())
	}
	for _, l := range legacy {
		legacytest.Check(t, ctx, d, l, before[l.Old.Name])
		if v, _ := db.TableVersion(ctx, d, l.New.Name); v != l.New.Version {
			t.Errorf("table %s: version %d after the migration", l.New.Name, v)
		}
	}
	// The backup tables hold the rows as they were.
	var n int
	if err := d.QueryRow(ctx, "SELECT COUNT(*) FROM gw_bak_v3").Scan(&n); err != nil || n != 300 {
		t.Errorf("gw_bak_v3: %d rows, %v", n, err)
	}
	// A second run changes nothing.
	rep, err = db.Migrate(ctx, d, cur, db.MigrateOptions{})
	if err != nil || rep.Changed() {
		t.Errorf("second migrate: changed %v, %v", rep.Changed(), err)
	}
	// A table created fresh has the same columns as a migrated one.
	fresh := "sqlite://" + filepath.Join(t.TempDir(), "fresh.db")
	f, err := db.OpenWith(ctx, fresh, db.Options{Maintenance: true})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := db.CreateTables(ctx, f, cur); err != nil {
		t.Fatal(err)
	}
	for _, tb := range cur {
		a, _ := db.Columns(ctx, d, tb.Name)
		b, _ := db.Columns(ctx, f, tb.Name)
		if strings.Join(sorted(a), ",") != strings.Join(sorted(b), ",") {
			t.Errorf("table %s: migrated columns %v, created %v", tb.Name, a, b)
		}
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// The migrations of every shape a version had: gw at version 3 with the
// strip column of OpenSER 1.1, and with the id and prefix of OpenSER 1.2.
func TestMigrateShapesSQLite(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := db.OpenWith(ctx, "sqlite://"+filepath.Join(t.TempDir(), "shapes.db"), db.Options{Maintenance: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	gw := schemas.Oldest("gw")
	gw.Columns = append(gw.Columns, schema.Column{Name: "strip", Type: schema.Int, Unsigned: true, Null: true})
	if err := db.CreateTables(ctx, d, []*schema.Table{gw}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(ctx, "INSERT INTO gw (gw_name, ip_addr, grp_id, strip) VALUES ('a', 16777226, 1, 3)"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx, d, []*schema.Table{schemas.Gw()}, db.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	var ip string
	var strip int
	if err := d.QueryRow(ctx, "SELECT ip_addr, strip FROM gw WHERE gw_name = 'a'").Scan(&ip, &strip); err != nil || ip != "10.0.0.1" || strip != 3 {
		t.Errorf("gw with strip: ip %q strip %d, %v", ip, strip, err)
	}
}
