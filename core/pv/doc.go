// Package pv is the pseudo-variable system of the routing script: the
// $-variables of Kamailio 3.0 ($ru, $hdr(Via), $avp(s:x), $(ru{uri.user})
// …), the attributes of SER 3.0 ($account, $f.did, $t.fr_timer[1]), SER
// selects (@from.uri.host, @cfg_get.group.var), and the two kinds of
// format strings built from them (Kamailio's "$fu" formats and SER's xl
// "%fu" formats).
//
// # API
//
// A Registry is made per configuration load with NewRegistry. It holds
// the core pseudo-variable classes; modules add theirs with AddPV (or
// AddModule for all the classes of a loaded module), and the loader feeds
// the pv module's parameters through AddAVPAliases, AddShvSet and
// AddVarSet, and custom configuration variables through SetCfgVar. Once
// the whole configuration is read, Check reports configuration variables
// that selects read but nobody declared.
//
// Parse compiles the text of one item as the configuration writes it into
// a *Spec, which implements sr.Getter and sr.Setter; ParseSetter does the
// same for the left side of an assignment and refuses read-only items.
// ParsePrefix compiles the item at the start of a text and says where it
// ends. ParseSelect compiles a select. ParseFormat and ParseXLFormat
// compile formats into an sr.Format; a format without items is an
// sr.StaticFormat. Everything is parsed once, at load time; reading a
// value per message does no parsing of the pseudo-variable and no
// reflection.
//
// # Compatibility modes
//
// The mode in force where the item is written (Compat) decides what "$"
// starts:
//
//   - Kamailio (#!KAMAILIO): every $name is a pseudo-variable, and an
//     unknown name is an error ("unknown pseudo-variable $foo").
//   - SER (#!SER): "$" always starts an attribute, so $ru is the attribute
//     "ru"; $(...) and $name(...) do not exist. $? still reads the return
//     code, since "?" cannot be part of an attribute name.
//   - MaxCompat (#!MAXCOMPAT, #!ALL, and no header at all): $name(...) and
//     $(...) are pseudo-variables; $f.x, $t.x, $fu.x, $tu.x, $fd.x, $td.x,
//     $fr.x, $tr.x, $g.x and $name[...] are attributes; a bare $name is a
//     pseudo-variable if a class of that name exists and takes no inner
//     name, otherwise the attribute "name" (as 3.0 falls back when the
//     pseudo-variable does not parse).
//
// # Forms
//
// $name, $name(inner) (nested parentheses allowed: $hdr(Via),
// $avp(i:10)), and $(name(inner)[index]{tr1}{tr2,args}) where the index
// is [n], [-n] or [*] (or a pseudo-variable) and transformations chain
// left to right. Transformations need the $(...) form. An item with a
// transformation is read-only.
//
// # Values
//
// A value that is not there reads as null (sr.NullVal), so "$rU == $null"
// works; a null item in a format prints "<null>" as Kamailio's xlog does.
// Numbers Kamailio returns as integers ($rs, $cl, $sp, $Rp, $bf, $mf, $sf,
// $rc, $Ts, $ml, $bs, $pp) are sr.Int; the rest are strings (ports of
// URIs included, as in Kamailio: "$rp" is "5060"). Kamailio fills in
// defaults for $rp, $op, $dp ("5060", "5061" for sips) and $rP, $oP, $dP
// ("udp"). $var(x) and $shv(x) never assigned read as the integer 0, as
// Kamailio creates them with that value (a varset or shvset value when
// one was given).
//
// A name never ends with a dot, so "$tt." in a format is $tt followed by a
// full stop. sipgo splits comma-separated values of Via, Contact, Route
// and Record-Route into separate headers, so $(hdr(Via)[1]) is the second
// Via value (Kamailio's $hdr counts header lines), and $ct and
// $hdr(Contact) give the first contact.
//
// # AVPs and attributes
//
// $avp(x) and SER attributes share c.AVPs. A name without a class is
// searched in the URI, user, domain and global classes, in that order, of
// the from track; a value written without a class goes to the URI class of
// the from track. So in MaxCompat mode $avp(s:account) and $account are the
// same value. $avp(x) = v pushes v and keeps older values, $avp(x) = $null
// deletes the newest value, $(avp(x)[*]) = v deletes all then adds v,
// $(avp(x)[*]) = $null deletes all. An attribute assignment ($x = v)
// replaces: it deletes every value in the attribute's scope, then adds v.
// Kamailio indexes count from the newest value ([0]) or the oldest ([-1]);
// SER indexes count from the oldest ([1]) or the newest ([-1]), and [] or
// [*] reads all values joined with ", ".
//
// # Branches
//
// $br, $bR and $branch(field) read the extra branches of c.Branches, as
// Kamailio reads get_branch(0): branch 0 is the first branch added by
// append_branch or lookup, not the R-URI, which is $ru.
package pv
