// Package cfg is the front end of the routing-script language of
// kamailio.cfg and ser.cfg (Kamailio / SIP Router 3.0, plus the later
// preprocessor and block syntax that 5.x configurations use): the
// preprocessor, the lexer, the parser and the syntax tree.
//
// # Use
//
//	f, err := cfg.ParseFile("/etc/kamailio/kamailio.cfg", cfg.Options{
//		Defines: map[string]string{"WITH_AUTH": ""}, // -A WITH_AUTH
//	})
//
// Parse does the same for a main file held in memory. Included files are
// read through Options.ReadFile (os.ReadFile by default), so tests can
// serve them from memory. When the configuration has errors, the error is
// an ErrorList: every error found, as *sr.PosError values in the form
// "file:line:col: message", sorted by position; the parser goes on after
// an error where it can, and the File then holds what could be parsed.
//
// # What is done here
//
// The lexer and the preprocessor are one pass. They handle # and //
// comments, nested /* */ comments, "..." strings with escapes and
// joining of adjacent strings, '...' raw strings, numbers (decimal, 0x
// hex, leading-0 octal, b-suffixed binary), unquoted IPv4 and IPv6
// addresses, pseudo-variables and selects, and the directives #!KAMAILIO,
// #!OPENSER, #!SER, #!MAXCOMPAT, #!ALL, #!define, #!trydef, #!redefine,
// #!ifdef, #!ifndef, #!else, #!endif, #!subst, #!substdef, #!substdefs
// (also with the !! prefix), include_file and import_file. A defined name
// used as an identifier is replaced by the tokens of its value, which
// keep the position of the name; strings are never touched by defines,
// only by #!subst rules.
//
// The parser builds a File: the top-level items in order (Global,
// CustomVar, LoadModule, LoadPath, ModParam, FlagDecl), the route blocks
// (Route, with sr.RouteType kinds), and the compatibility-mode changes.
// Statements are Block, If, Switch (with Case), While, Return, Exit, Drop,
// Break, Assign and Call. Expressions are IntLit, StrLit, Ident, PV,
// Select, IP, Myself, Call, Unary, Binary and Elem (the SER-style
// "method == INVITE" elements). Function arguments, global values and
// modparam values are Values, which keep their kind, text and position.
// Every node has its sr.Pos.
//
// # What is left to later stages
//
// Nothing is resolved: global parameter names, module and function names,
// argument counts and route types are not checked, and pseudo-variables
// are only delimited and classified (PVKind) with the compatibility mode
// in force where they were written (Mode). Fprint dumps a tree as text;
// Inspect walks it.
package cfg
