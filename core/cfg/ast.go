package cfg

import (
	"net/netip"

	"sip-router.org/core/sr"
)

// Mode is a script compatibility mode. It decides how the lexer reads
// "$name": as a Kamailio pseudo-variable, as a SER attribute (AVP), or,
// in max compat mode, as a pseudo-variable if one has that name and an
// attribute otherwise.
type Mode uint8

// The compatibility modes. The zero Mode is max compat, the mode of a
// configuration without a #! header line.
const (
	ModeMaxCompat Mode = iota // #!MAXCOMPAT, #!ALL, or no header
	ModeKamailio              // #!KAMAILIO, #!OPENSER
	ModeSER                   // #!SER
)

// String returns the directive name of the mode: MAXCOMPAT, KAMAILIO or SER.
func (m Mode) String() string {
	switch m {
	case ModeKamailio:
		return "KAMAILIO"
	case ModeSER:
		return "SER"
	}
	return "MAXCOMPAT"
}

// ModeChange records a compatibility-mode line (#!KAMAILIO, #!OPENSER,
// #!SER, #!MAXCOMPAT, #!ALL). The mode holds from that line on, across
// include boundaries, until the next change.
type ModeChange struct {
	Pos  sr.Pos
	Mode Mode
}

// Node is a node of the syntax tree. Every node knows where it starts.
type Node interface {
	Position() sr.Pos
}

// Item is a top-level element other than a route block: Global,
// CustomVar, LoadModule, LoadPath, ModParam or FlagDecl.
type Item interface {
	Node
	itemNode()
}

// Stmt is a statement inside a route block.
type Stmt interface {
	Node
	stmtNode()
}

// Expr is an expression.
type Expr interface {
	Node
	exprNode()
}

// File is a parsed configuration: the main file with everything it
// includes.
type File struct {
	// Pos is the start of the main file.
	Pos sr.Pos
	// Name is the main file's name as given to Parse or ParseFile.
	Name string
	// Items are the top-level elements other than route blocks, in order.
	Items []Item
	// Routes are the route blocks, in order.
	Routes []*Route
	// Modes are the compatibility-mode lines, in order. The mode before
	// the first one is Options.Mode (max compat by default).
	Modes []ModeChange
	// Files are the files read: the main file first, then each included
	// file in the order it was opened.
	Files []string
}

// Global is a core parameter, "name = value" (debug=2, listen=udp:1.2.3.4:5060).
// The name is not checked here: the core decides which names exist.
type Global struct {
	Pos   sr.Pos
	Mode  Mode
	Name  string
	Value *Value
	// Advertise is the address after "advertise" (listen=... advertise
	// 1.2.3.4:5060), or nil.
	Advertise *Value
}

// CustomVar is a runtime configuration variable, "group.name = value
// [desc "text"]" (pstn.gw_ip = "" desc "PSTN GW Address").
type CustomVar struct {
	Pos   sr.Pos
	Mode  Mode
	Group string
	Name  string
	// Value is a ValString or a ValInt.
	Value *Value
	// Desc is the description, "" when there is none.
	Desc string
}

// LoadModule is loadmodule "path".
type LoadModule struct {
	Pos  sr.Pos
	Mode Mode
	Path string
}

// LoadPath is mpath="dirs" or loadpath "dirs" (with or without '=').
type LoadPath struct {
	Pos     sr.Pos
	Mode    Mode
	Keyword string // "mpath" or "loadpath"
	Path    string
}

// ModParam is modparam("module", "param", value).
type ModParam struct {
	Pos    sr.Pos
	Mode   Mode
	Module string // a case-insensitive regular expression in the original
	Param  string
	// Value is a ValString or a ValInt.
	Value *Value
}

// FlagDecl is a SER flag declaration: "flags NAME[:N], ..." (also written
// "bool") or "avpflags name, ...".
type FlagDecl struct {
	Pos     sr.Pos
	Mode    Mode
	Keyword string // "flags", "bool" or "avpflags"
	Flags   []*Flag
}

// Flag is one name of a FlagDecl.
type Flag struct {
	Pos  sr.Pos
	Name string
	// Bit is the flag number given after ':', or -1.
	Bit int
}

// Route is a route block. Type says which kind; Name is "" for the
// unnamed blocks (route {}, request_route {}, onreply_route {},
// reply_route {}, onsend_route {}, branch_route {}). route[0] and
// onreply_route[0] are the unnamed blocks, as in the original.
type Route struct {
	Pos     sr.Pos
	Mode    Mode
	Type    sr.RouteType
	Keyword string // as written: "route", "request_route", "failure_route", ...
	Name    string
	NamePos sr.Pos
	Body    *Block
}

// ValueKind says what a Value holds.
type ValueKind uint8

// The value kinds.
const (
	ValString  ValueKind = iota // "text", 'text', "a" "b" joined
	ValInt                      // 10, 0x1f, 017, 101b, -1, yes/no words, a define expanding to a number
	ValIdent                    // a bare identifier: LOG_LOCAL0, a SER flag name, a route name
	ValAddr                     // an unquoted address: udp:10.0.0.1:5060, [::1]:5060, host.example.com, *
	ValPV                       // an unquoted pseudo-variable or attribute
	ValSelect                   // an unquoted select (@ruri.host)
	ValURIHost                  // uri:host, as in forward(uri:host, uri:port)
	ValURIPort                  // uri:port
	ValExpr                     // an argument written as an expression ($var(x) + 1)
)

var valueKindNames = [...]string{"string", "int", "ident", "addr", "pv", "select", "uri:host", "uri:port", "expr"}

// String names the kind.
func (k ValueKind) String() string {
	if int(k) < len(valueKindNames) {
		return valueKindNames[k]
	}
	return "?"
}

// Value is a value of a global parameter, a modparam or a custom variable,
// or an argument of a function call. It keeps the kind, the text as
// written and the position.
type Value struct {
	Pos  sr.Pos
	Kind ValueKind
	// Text is the string's contents, the number as written ("0x10",
	// "yes", "-1"), the identifier, the address, the pseudo-variable or
	// select source, or "uri:host"/"uri:port"; "" for ValExpr.
	Text string
	Int  int   // ValInt
	Addr *Addr // ValAddr
	PV   *PV   // ValPV
	Expr Expr  // ValExpr
}

// Addr is an unquoted address: [proto:]host[:port].
type Addr struct {
	Pos   sr.Pos
	Proto string // udp, tcp, tls, sctp, ws, wss, or ""
	// Host is an IPv4 address, an IPv6 address in brackets or not as
	// written, a host or interface name, or "*".
	Host string
	Port int // 0 when absent
}

// Block is a list of statements in braces.
type Block struct {
	Pos   sr.Pos
	Stmts []Stmt
}

// If is if (cond) stmt [else stmt].
type If struct {
	Pos  sr.Pos
	Cond Expr
	Then Stmt
	Else Stmt // nil without else
}

// Switch is switch (x) { case ...: ... }.
type Switch struct {
	Pos   sr.Pos
	X     Expr
	Cases []*Case
}

// Case is one label of a switch and the statements up to the next label.
// Execution falls through to the next case unless a break ends it.
type Case struct {
	Pos     sr.Pos
	Default bool
	// Regex marks case /"regex":.
	Regex bool
	// Label is an *IntLit or a *StrLit; nil for default.
	Label Expr
	Body  []Stmt
}

// While is while (cond) stmt.
type While struct {
	Pos  sr.Pos
	Cond Expr
	Body Stmt
}

// Return is return, return(expr) or return expr.
type Return struct {
	Pos sr.Pos
	X   Expr // nil without a value
}

// Exit is exit [expr].
type Exit struct {
	Pos sr.Pos
	X   Expr
}

// Drop is drop [expr].
type Drop struct {
	Pos sr.Pos
	X   Expr
}

// Break is break.
type Break struct {
	Pos sr.Pos
}

// Assign is lhs = expr, where lhs is a pseudo-variable or an attribute.
type Assign struct {
	Pos sr.Pos
	LHS *PV
	Op  string // "="
	RHS Expr
}

// IntLit is an integer literal. Text is the number as written ("0x10",
// "yes", "-1").
type IntLit struct {
	Pos   sr.Pos
	Value int
	Text  string
}

// StrLit is a string literal; strings are never interpolated.
type StrLit struct {
	Pos   sr.Pos
	Value string
}

// Ident is a bare identifier used as a value: method==INVITE, proto==udp,
// af==inet, a SER flag name.
type Ident struct {
	Pos  sr.Pos
	Name string
}

// PVKind says how the lexer classified a "$..." token.
type PVKind uint8

// The pseudo-variable kinds.
const (
	// PVVar is a Kamailio pseudo-variable: $ru, $avp(x), $(ru{uri.user}),
	// and $?, $rc, $retcode in every mode.
	PVVar PVKind = iota
	// PVAttr is a SER attribute (AVP): $f.x, $t.x, $fu.x, ..., $g.x,
	// $name[idx], and every $name in #!SER mode.
	PVAttr
	// PVVarOrAttr is a bare $name in max compat mode: a pseudo-variable if
	// one has that name, an attribute otherwise.
	PVVarOrAttr
)

// String names the kind.
func (k PVKind) String() string {
	switch k {
	case PVAttr:
		return "attr"
	case PVVarOrAttr:
		return "pv-or-attr"
	}
	return "pv"
}

// PV is a pseudo-variable or SER attribute. It is not resolved here: Text
// is its source ("$avp(i:10)", "$f.did", "$(hdr(From){tobody.uri})").
type PV struct {
	Pos  sr.Pos
	Text string
	Kind PVKind
	// Mode is the compatibility mode in force where it was written.
	Mode Mode
}

// Select is a SER select, Text being its source (@from.uri.host,
// @msg.header["X"], @cfg_get.group.var).
type Select struct {
	Pos  sr.Pos
	Text string
}

// IP is an unquoted IP address or network (10.0.0.0/8, ::1, [::1],
// 10.0.0.0/255.0.0.0).
type IP struct {
	Pos  sr.Pos
	Text string
	Addr netip.Addr
	// Bits is the network prefix length, or -1 without a mask.
	Bits int
}

// Myself is the myself keyword.
type Myself struct {
	Pos sr.Pos
}

// Call is a function call: a core or module function, route(NAME),
// has_totag(). It is an expression and, followed by ';', a statement.
type Call struct {
	Pos  sr.Pos
	Name string
	Args []*Value
	// Parens is false for a call written without parentheses
	// (force_rport;), which a few core functions allow.
	Parens bool
}

// Unary is a prefix operator: "!", "-", "defined", "(int)", "(str)",
// "strlen", "strempty". The word forms are normalised ("not" is "!").
type Unary struct {
	Pos sr.Pos
	Op  string
	X   Expr
}

// Binary is a binary operation. Op is one of || && | & == != =~ !~ eq ne
// ieq ine < > <= >= + - * / mod ("or" and "and" are normalised to || and
// &&). Pos is the start of X; OpPos is the operator.
type Binary struct {
	Pos   sr.Pos
	OpPos sr.Pos
	Op    string
	X, Y  Expr
}

// Elem is an old SER-style expression element, whose left side is a
// keyword: method, uri, status, from_uri, to_uri, src_ip, dst_ip,
// src_port, dst_port, snd_ip, snd_port, snd_proto (to_proto), snd_af
// (to_af), to_ip, to_port, proto, af, msg:len. Value is an expression, an
// *IP, an *Ident (method==INVITE) or *Myself. Reversed marks the
// "myself == uri" form. The element is one operand: !uri==myself is
// !(uri==myself).
type Elem struct {
	Pos      sr.Pos
	Name     string
	Op       string
	Value    Expr
	Reversed bool
}

// BadExpr stands for an expression that could not be parsed.
type BadExpr struct {
	Pos sr.Pos
}

// Position returns where the node starts: its Pos field.
func (n *File) Position() sr.Pos { return n.Pos }

// The other nodes' Position methods.

func (n *Global) Position() sr.Pos     { return n.Pos }
func (n *CustomVar) Position() sr.Pos  { return n.Pos }
func (n *LoadModule) Position() sr.Pos { return n.Pos }
func (n *LoadPath) Position() sr.Pos   { return n.Pos }
func (n *ModParam) Position() sr.Pos   { return n.Pos }
func (n *FlagDecl) Position() sr.Pos   { return n.Pos }
func (n *Flag) Position() sr.Pos       { return n.Pos }
func (n *Route) Position() sr.Pos      { return n.Pos }
func (n *Value) Position() sr.Pos      { return n.Pos }
func (n *Addr) Position() sr.Pos       { return n.Pos }
func (n *Block) Position() sr.Pos      { return n.Pos }
func (n *If) Position() sr.Pos         { return n.Pos }
func (n *Switch) Position() sr.Pos     { return n.Pos }
func (n *Case) Position() sr.Pos       { return n.Pos }
func (n *While) Position() sr.Pos      { return n.Pos }
func (n *Return) Position() sr.Pos     { return n.Pos }
func (n *Exit) Position() sr.Pos       { return n.Pos }
func (n *Drop) Position() sr.Pos       { return n.Pos }
func (n *Break) Position() sr.Pos      { return n.Pos }
func (n *Assign) Position() sr.Pos     { return n.Pos }
func (n *IntLit) Position() sr.Pos     { return n.Pos }
func (n *StrLit) Position() sr.Pos     { return n.Pos }
func (n *Ident) Position() sr.Pos      { return n.Pos }
func (n *PV) Position() sr.Pos         { return n.Pos }
func (n *Select) Position() sr.Pos     { return n.Pos }
func (n *IP) Position() sr.Pos         { return n.Pos }
func (n *Myself) Position() sr.Pos     { return n.Pos }
func (n *Call) Position() sr.Pos       { return n.Pos }
func (n *Unary) Position() sr.Pos      { return n.Pos }
func (n *Binary) Position() sr.Pos     { return n.Pos }
func (n *Elem) Position() sr.Pos       { return n.Pos }
func (n *BadExpr) Position() sr.Pos    { return n.Pos }

func (*Global) itemNode()     {}
func (*CustomVar) itemNode()  {}
func (*LoadModule) itemNode() {}
func (*LoadPath) itemNode()   {}
func (*ModParam) itemNode()   {}
func (*FlagDecl) itemNode()   {}

func (*Block) stmtNode()  {}
func (*If) stmtNode()     {}
func (*Switch) stmtNode() {}
func (*While) stmtNode()  {}
func (*Return) stmtNode() {}
func (*Exit) stmtNode()   {}
func (*Drop) stmtNode()   {}
func (*Break) stmtNode()  {}
func (*Assign) stmtNode() {}
func (*Call) stmtNode()   {}

func (*IntLit) exprNode()  {}
func (*StrLit) exprNode()  {}
func (*Ident) exprNode()   {}
func (*PV) exprNode()      {}
func (*Select) exprNode()  {}
func (*IP) exprNode()      {}
func (*Myself) exprNode()  {}
func (*Call) exprNode()    {}
func (*Unary) exprNode()   {}
func (*Binary) exprNode()  {}
func (*Elem) exprNode()    {}
func (*BadExpr) exprNode() {}
