// Package schema declares database tables once, in the module that owns
// them: columns, types, defaults, keys, indexes, the table version and the
// migrations that lead to it. The SQL of each dialect is generated from
// these declarations (package sip-router.org/core/db); tools render them.
//
// The package has no dependencies, so tools can read declarations without
// linking a database driver.
package schema

import "strconv"

// Table is one table of a module.
type Table struct {
	Name string
	// Version is the table's version as the code knows it: the value its
	// row in the "version" table must hold.
	Version int
	Columns []Column
	// Primary is an explicit primary key, for tables without an
	// auto-increment column. It must be empty when a column has Auto set:
	// that column is then the primary key.
	Primary []string
	// Keys are unique keys.
	Keys []Index
	// Indexes are non-unique indexes.
	Indexes []Index
	// Comment describes the table (rendered as a comment in the SQL).
	Comment string
	// Migrations lead an existing table from an older version to Version,
	// one version at a time: the migration with From n brings it to n+1.
	// Tables created fresh never run them.
	Migrations []Migration
	// Fixes bring a table found at some version to the shape that version
	// has here, when releases gave it several shapes (see Fix).
	Fixes []Fix
}

// Type is a column type, independent of the dialect.
type Type uint8

// Column types.
const (
	Int Type = iota
	BigInt
	String   // VARCHAR(Size)
	Text     // large text
	DateTime // a point in time, to the second, stored as UTC
	Float
	Blob
)

var typeNames = [...]string{"int", "bigint", "string", "text", "datetime", "float", "blob"}

// String names the type ("int", "string" …).
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// Column is one column.
type Column struct {
	Name string
	Type Type
	// Size is the VARCHAR length of a String column.
	Size int
	// Null allows NULL.
	Null bool
	// Default is the default value as SQL text valid in every dialect
	// ("''", "0", "1.0", "'2030-05-28 21:32:15'"), or "" for none. A
	// nullable column without default defaults to NULL.
	Default string
	// Auto marks the auto-increment primary key (Int or BigInt).
	Auto bool
	// Unsigned makes an integer column unsigned where the dialect has
	// unsigned types (MySQL); elsewhere it is ignored.
	Unsigned bool
	// Comment describes the column.
	Comment string
}

// Index is a named list of columns.
type Index struct {
	Name    string
	Columns []string
}

// Col returns the column named name, or nil.
func (t *Table) Col(name string) *Column {
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return &t.Columns[i]
		}
	}
	return nil
}

// AutoColumn returns the auto-increment column, or nil.
func (t *Table) AutoColumn() *Column {
	for i := range t.Columns {
		if t.Columns[i].Auto {
			return &t.Columns[i]
		}
	}
	return nil
}
