package avpops

import (
	"regexp"
	"strconv"
	"strings"

	"sip-router.org/core/module"
	"sip-router.org/core/sr"
)

// deleteArgs are the prepared arguments of avp_delete.
type deleteArgs struct {
	ref  *avpRef // nil: by kind
	kind nameKind
	all  bool
}

func fixupDelete(_ *avpops, fx *module.Fixup, args []module.Arg) ([]any, error) {
	a := args[0]
	da := &deleteArgs{}
	var flags string
	if strings.HasPrefix(strings.TrimSpace(a.S), "$") {
		pv, rest, err := splitPV(fx, a, a.S)
		if err != nil {
			return nil, err
		}
		if da.ref, err = compileAVP(fx, a, pv); err != nil {
			return nil, err
		}
		flags = rest
	} else {
		sel, rest, _ := strings.Cut(strings.TrimSpace(a.S), "/")
		k, err := parseKind(sel)
		if err != nil {
			return nil, fx.Errorf(a, "%s: %v", fx.Func, err)
		}
		da.kind, da.all, flags = k, true, rest
	}
	fl, err := flagSet(fx, a, flags, "g")
	if err != nil {
		return nil, err
	}
	da.all = da.all || fl['g']
	return []any{da}, nil
}

// avpDelete implements avp_delete(name[/g]): the newest value of the AVP,
// or all of them with g; "s", "i", "a" (with avpflags) delete every AVP
// with a string, integer or any name. 1 when something was deleted.
func (m *avpops) avpDelete(c *sr.Ctx, p []any) int {
	da := p[0].(*deleteArgs)
	var n int
	if da.ref != nil {
		k := 1
		if da.all {
			k = -1
		}
		n = da.ref.remove(c, k)
	} else {
		n = removeKind(c, da.kind, da.all)
	}
	return truth(n > 0)
}

// copyArgs are the prepared arguments of avp_copy.
type copyArgs struct {
	src, dst                  *avpRef
	all, del, toInt, toString bool
}

func fixupCopy(_ *avpops, fx *module.Fixup, args []module.Arg) ([]any, error) {
	src, err := compileAVP(fx, args[0], args[0].S)
	if err != nil {
		return nil, err
	}
	pv, rest, err := splitPV(fx, args[1], args[1].S)
	if err != nil {
		return nil, err
	}
	dst, err := compileAVP(fx, args[1], pv)
	if err != nil {
		return nil, err
	}
	fl, err := flagSet(fx, args[1], rest, "gdns")
	if err != nil {
		return nil, err
	}
	if fl['n'] && fl['s'] {
		return nil, fx.Errorf(args[1], "%s: flags n and s exclude each other", fx.Func)
	}
	return []any{&copyArgs{src: src, dst: dst, all: fl['g'], del: fl['d'], toInt: fl['n'], toString: fl['s']}}, nil
}

// avpCopy implements avp_copy(src, dst[/flags]): the newest value (all
// with g) of src is added to dst; d deletes the copied values, n and s
// convert them to an integer or a string.
func (m *avpops) avpCopy(c *sr.Ctx, p []any) int {
	ca := p[0].(*copyArgs)
	vals := ca.src.values(c)
	if len(vals) == 0 {
		return -1
	}
	if !ca.all {
		vals = vals[:1]
	}
	out := make([]sr.Value, 0, len(vals))
	for _, v := range vals {
		switch {
		case ca.toInt && v.K == sr.Str:
			n, err := strconv.Atoi(v.S)
			if err != nil {
				c.Log.Error("avp_copy: the value is not a number", "avp", ca.src.text, "value", v.S)
				return -1
			}
			v = sr.IntVal(n)
		case ca.toString && v.K == sr.Int:
			v = sr.StrVal(strconv.Itoa(v.I))
		}
		out = append(out, v)
	}
	if ca.del {
		ca.src.remove(c, len(vals))
	}
	for _, v := range out {
		ca.dst.add(c, v, 0)
	}
	return 1
}

// pushto destinations.
const (
	pushRURI = iota
	pushRUser
	pushRDomain
	pushDURI
	pushBranch
)

type pushArgs struct {
	dst    int
	set    sr.Setter // $ru, $rU, $rd or $du
	srcAVP *avpRef
	srcPV  sr.Getter
	all    bool
}

func fixupPushto(_ *avpops, fx *module.Fixup, args []module.Arg) ([]any, error) {
	pv, rest, err := splitPV(fx, args[0], args[0].S)
	if err != nil {
		return nil, err
	}
	pa := &pushArgs{}
	target := ""
	switch pv {
	case "$ru", "$ruri":
		switch strings.ToLower(rest) {
		case "":
			pa.dst, target = pushRURI, "$ru"
		case "username":
			pa.dst, target = pushRUser, "$rU"
		case "domain":
			pa.dst, target = pushRDomain, "$rd"
		default:
			return nil, fx.Errorf(args[0], "%s: unknown Request-URI part %q (username or domain)", fx.Func, rest)
		}
	case "$du", "$duri":
		pa.dst, target = pushDURI, "$du"
	case "$br":
		pa.dst = pushBranch
	default:
		return nil, fx.Errorf(args[0], "%s: %q: the destination must be $ru, $du or $br", fx.Func, pv)
	}
	if pa.dst != pushRURI && pa.dst != pushRUser && pa.dst != pushRDomain && rest != "" {
		return nil, fx.Errorf(args[0], "%s: %s takes no flag", fx.Func, pv)
	}
	if target != "" {
		if pa.set, err = fx.Env.Setter(target, args[0].Pos); err != nil {
			return nil, fx.Errorf(args[0], "%s: %v", fx.Func, err)
		}
	}
	spv, srest, err := splitPV(fx, args[1], args[1].S)
	if err != nil {
		return nil, err
	}
	g, err := fx.Env.Getter(spv, args[1].Pos)
	if err != nil {
		return nil, fx.Errorf(args[1], "%s: %v", fx.Func, err)
	}
	if n, ok := g.(avpNamer); ok {
		if name, flags, ok := n.AVP(); ok {
			pa.srcAVP = &avpRef{text: spv, name: name, flags: flags}
		}
	}
	if pa.srcAVP == nil {
		pa.srcPV = g
	}
	fl, err := flagSet(fx, args[1], srest, "g")
	if err != nil {
		return nil, err
	}
	pa.all = fl['g']
	return []any{pa}, nil
}

// avpPushto implements avp_pushto(dst, src[/g]): the value of src goes
// into the Request-URI (or its user or host), the destination URI, or a
// new branch. With g every value of the AVP is used: each further value
// of a Request-URI push first moves the current Request-URI to a branch.
func (m *avpops) avpPushto(c *sr.Ctx, p []any) int {
	pa := p[0].(*pushArgs)
	if c.Req == nil {
		return -1
	}
	var vals []sr.Value
	if pa.srcAVP != nil {
		vals = pa.srcAVP.values(c)
		if !pa.all && len(vals) > 1 {
			vals = vals[:1]
		}
	} else if v := pa.srcPV.Get(c); !v.IsNull() {
		vals = []sr.Value{v}
	}
	if len(vals) == 0 {
		return -1
	}
	for i, v := range vals {
		switch pa.dst {
		case pushRURI, pushRUser, pushRDomain:
			if i > 0 {
				c.Branches = append(c.Branches, sr.Branch{URI: c.Req.Recipient.String(), DstURI: c.DstURI,
					Q: c.Q, Path: c.Path, Flags: c.BranchFlags, Socket: c.ForceSocket})
			}
			if err := pa.set.Set(c, sr.StrVal(v.Text())); err != nil {
				c.Log.Error("avp_pushto: cannot set the Request-URI", "value", v.Text(), "error", err)
				return -1
			}
		case pushDURI:
			if v.K != sr.Str {
				return -1
			}
			if err := pa.set.Set(c, v); err != nil {
				c.Log.Error("avp_pushto: cannot set the destination URI", "value", v.S, "error", err)
				return -1
			}
		case pushBranch:
			if v.K != sr.Str || v.S == "" {
				return -1
			}
			c.Branches = append(c.Branches, sr.Branch{URI: v.S, Q: sr.QUnset, Socket: c.ForceSocket})
		}
	}
	return 1
}

// checkArgs are the prepared arguments of avp_check.
type checkArgs struct {
	src       *operand
	op        string
	val       *operand
	re        *regexp.Regexp
	all, fold bool
}

var checkOps = map[string]bool{"eq": true, "ne": true, "lt": true, "le": true, "gt": true, "ge": true,
	"re": true, "fm": true, "and": true, "or": true, "xor": true}

func fixupCheck(_ *avpops, fx *module.Fixup, args []module.Arg) ([]any, error) {
	src, err := parseOperand(fx, args[0], strings.TrimSpace(args[0].S))
	if err != nil {
		return nil, err
	}
	if src.get == nil && src.avp == nil {
		return nil, fx.Errorf(args[0], "%s: %q is not a pseudo-variable", fx.Func, args[0].S)
	}
	op, value, flags, err := splitOpValue(fx, args[1])
	if err != nil {
		return nil, err
	}
	if !checkOps[op] {
		return nil, fx.Errorf(args[1], "%s: unknown operation %q (eq, ne, lt, le, gt, ge, re, fm, and, or, xor)", fx.Func, op)
	}
	val, err := parseOperand(fx, args[1], value)
	if err != nil {
		return nil, err
	}
	fl, err := flagSet(fx, args[1], flags, "gi")
	if err != nil {
		return nil, err
	}
	ca := &checkArgs{src: src, op: op, val: val, all: fl['g'], fold: fl['i']}
	if op == "re" && val.get == nil && val.avp == nil {
		if val.val.K != sr.Str {
			return nil, fx.Errorf(args[1], "%s: re needs a string", fx.Func)
		}
		if ca.re, err = regexp.Compile("(?im)" + val.val.S); err != nil {
			return nil, fx.Errorf(args[1], "%s: bad regular expression %q: %v", fx.Func, val.val.S, err)
		}
	}
	if op == "fm" && val.get == nil && val.avp == nil && val.val.K != sr.Str {
		return nil, fx.Errorf(args[1], "%s: fm needs a string", fx.Func)
	}
	return []any{ca}, nil
}

// avpCheck implements avp_check(name, "op/value[/flags]"): 1 when the
// newest value of name (every value with g) compares true with the value
// (any value of it, when it is an AVP). Strings and integers never compare.
func (m *avpops) avpCheck(c *sr.Ctx, p []any) int {
	ca := p[0].(*checkArgs)
	srcs := ca.src.values(c)
	if len(srcs) == 0 {
		return -1
	}
	if !ca.all && ca.src.avp != nil {
		srcs = srcs[:1]
	}
	checks := ca.val.values(c)
	for _, s := range srcs {
		for _, v := range checks {
			if s.K != v.K {
				continue
			}
			if ca.compare(c, s, v) {
				return 1
			}
		}
	}
	return -1
}

func (ca *checkArgs) compare(c *sr.Ctx, s, v sr.Value) bool {
	if s.K == sr.Int {
		switch ca.op {
		case "eq":
			return s.I == v.I
		case "ne":
			return s.I != v.I
		case "lt":
			return s.I < v.I
		case "le":
			return s.I <= v.I
		case "gt":
			return s.I > v.I
		case "ge":
			return s.I >= v.I
		case "and":
			return s.I&v.I != 0
		case "or":
			return s.I|v.I != 0
		case "xor":
			return s.I^v.I != 0
		}
		return false
	}
	switch ca.op {
	case "eq":
		if ca.fold {
			return strings.EqualFold(s.S, v.S)
		}
		return s.S == v.S
	case "ne":
		if ca.fold {
			return !strings.EqualFold(s.S, v.S)
		}
		return s.S != v.S
	case "lt", "le", "gt", "ge":
		r := strings.Compare(strings.ToLower(s.S), strings.ToLower(v.S))
		switch ca.op {
		case "lt":
			return r < 0
		case "le":
			return r <= 0
		case "gt":
			return r > 0
		}
		return r >= 0
	case "re":
		re := ca.re
		if re == nil {
			var err error
			if re, err = regexp.Compile("(?im)" + v.S); err != nil {
				c.Log.Info("avp_check: bad regular expression", "re", v.S, "error", err)
				return false
			}
		}
		return re.MatchString(s.S)
	case "fm":
		return globMatch(v.S, s.S, ca.fold)
	}
	return false
}

// opArgs are the prepared arguments of avp_op.
type opArgs struct {
	src, dst *avpRef
	op       string
	val      *operand
	all, del bool
}

var arithOps = map[string]bool{"add": true, "sub": true, "mul": true, "div": true, "mod": true,
	"and": true, "or": true, "xor": true, "not": true}

func fixupOp(_ *avpops, fx *module.Fixup, args []module.Arg) ([]any, error) {
	pv, rest, err := splitPV(fx, args[0], args[0].S)
	if err != nil {
		return nil, err
	}
	oa := &opArgs{}
	if oa.src, err = compileAVP(fx, args[0], pv); err != nil {
		return nil, err
	}
	oa.dst = oa.src
	if rest != "" {
		if oa.dst, err = compileAVP(fx, args[0], rest); err != nil {
			return nil, err
		}
	}
	op, value, flags, err := splitOpValue(fx, args[1])
	if err != nil {
		return nil, err
	}
	if !arithOps[op] {
		return nil, fx.Errorf(args[1], "%s: unknown operation %q (add, sub, mul, div, mod, and, or, xor, not)", fx.Func, op)
	}
	oa.op = op
	if oa.val, err = parseOperand(fx, args[1], value); err != nil {
		return nil, err
	}
	if oa.val.get == nil && oa.val.avp == nil && oa.val.val.K != sr.Int {
		return nil, fx.Errorf(args[1], "%s: the value must be an integer (i:%s)", fx.Func, value)
	}
	fl, err := flagSet(fx, args[1], flags, "gd")
	if err != nil {
		return nil, err
	}
	oa.all, oa.del = fl['g'], fl['d']
	return []any{oa}, nil
}

// avpOp implements avp_op(name[/dst], "op/value[/flags]"): the integer
// newest value of name (every integer value with g), combined with the
// value, is added to dst (name itself by default); d deletes the values
// used.
func (m *avpops) avpOp(c *sr.Ctx, p []any) int {
	oa := p[0].(*opArgs)
	var idx []int
	var ints []int
	for i, v := range oa.src.values(c) {
		if v.K == sr.Int {
			idx = append(idx, i)
			ints = append(ints, v.I)
			if !oa.all {
				break
			}
		}
	}
	if len(ints) == 0 && oa.op != "not" {
		return -1
	}
	var operands []int
	for _, v := range oa.val.values(c) {
		if v.K == sr.Int {
			operands = append(operands, v.I)
		} else if oa.val.avp == nil {
			c.Log.Error("avp_op: the value is not an integer", "value", v.S)
			return -1
		}
	}
	if len(operands) == 0 {
		return -1
	}
	if len(ints) == 0 {
		ints = []int{0}
	}
	var results []int
	for _, a := range ints {
		for _, b := range operands {
			results = append(results, arith(c, oa.op, a, b))
		}
	}
	if oa.del {
		removeAt(c, oa.src, idx)
	}
	for _, r := range results {
		oa.dst.add(c, sr.IntVal(r), 0)
	}
	return 1
}

func arith(c *sr.Ctx, op string, a, b int) int {
	switch op {
	case "add":
		return a + b
	case "sub":
		return a - b
	case "mul":
		return a * b
	case "div", "mod":
		if b == 0 {
			c.Log.Error("avp_op: division by zero")
			return 0
		}
		if op == "div" {
			return a / b
		}
		return a % b
	case "and":
		return a & b
	case "or":
		return a | b
	case "xor":
		return a ^ b
	case "not":
		return ^b
	}
	return 0
}

// removeAt deletes the values of a reference at positions (in search
// order).
func removeAt(c *sr.Ctx, r *avpRef, positions []int) {
	if len(positions) == 0 {
		return
	}
	want := map[int]bool{}
	for _, i := range positions {
		want[i] = true
	}
	mark := deleteMark(c.AVPs)
	i := 0
	r.walk(c.AVPs, func(a *sr.AVP) bool {
		if want[i] {
			a.Name = mark
		}
		i++
		return true
	})
	c.AVPs.Delete(mark, 0, true)
}

// substArgs are the prepared arguments of avp_subst.
type substArgs struct {
	src, dst *avpRef // dst nil: the result replaces the value in src
	all, del bool
	sub      *subst
}

func fixupSubst(_ *avpops, fx *module.Fixup, args []module.Arg) ([]any, error) {
	pv, rest, err := splitPV(fx, args[0], args[0].S)
	if err != nil {
		return nil, err
	}
	sa := &substArgs{}
	if sa.src, err = compileAVP(fx, args[0], pv); err != nil {
		return nil, err
	}
	if strings.HasPrefix(rest, "$") {
		dpv, frest, err := splitPV(fx, args[0], rest)
		if err != nil {
			return nil, err
		}
		if sa.dst, err = compileAVP(fx, args[0], dpv); err != nil {
			return nil, err
		}
		rest = frest
	}
	fl, err := flagSet(fx, args[0], rest, "gd")
	if err != nil {
		return nil, err
	}
	sa.all, sa.del = fl['g'], fl['d']
	if sa.sub, err = parseSubst(fx, args[1]); err != nil {
		return nil, err
	}
	return []any{sa}, nil
}

// avpSubst implements avp_subst(src[/dst][/flags], "/re/repl/flags"): the
// newest string value of src that matches (every one with g) is
// substituted; the result goes to dst, or replaces the value when no dst
// is given (d deletes the original also when there is a dst).
func (m *avpops) avpSubst(c *sr.Ctx, p []any) int {
	sa := p[0].(*substArgs)
	var used []int
	var results []string
	for i, v := range sa.src.values(c) {
		if v.K != sr.Str {
			continue
		}
		r, ok := sa.sub.apply(c, v.S)
		if !ok {
			continue
		}
		used = append(used, i)
		results = append(results, r)
		if !sa.all {
			break
		}
	}
	if len(results) == 0 {
		return -1
	}
	dst := sa.dst
	if dst == nil || sa.del {
		removeAt(c, sa.src, used)
	}
	if dst == nil {
		dst = sa.src
	}
	for _, r := range results {
		dst.add(c, sr.StrVal(r), 0)
	}
	return 1
}

// isSetArgs are the prepared arguments of is_avp_set.
type isSetArgs struct {
	ref             *avpRef
	index           int
	empty, num, str bool
}

var indexRE = regexp.MustCompile(`^\$\((.*)\[(-?[0-9]+|\*)\]\)$`)

func fixupIsSet(_ *avpops, fx *module.Fixup, args []module.Arg) ([]any, error) {
	pv, rest, err := splitPV(fx, args[0], args[0].S)
	if err != nil {
		return nil, err
	}
	ia := &isSetArgs{}
	if ia.ref, err = compileAVP(fx, args[0], pv); err != nil {
		return nil, err
	}
	if mt := indexRE.FindStringSubmatch(pv); mt != nil && mt[2] != "*" {
		ia.index, _ = strconv.Atoi(mt[2])
	}
	fl, err := flagSet(fx, args[0], rest, "ens")
	if err != nil {
		return nil, err
	}
	if fl['n'] && fl['s'] {
		return nil, fx.Errorf(args[0], "%s: flags n and s exclude each other", fx.Func)
	}
	ia.empty, ia.num, ia.str = fl['e'], fl['n'], fl['s']
	return []any{ia}, nil
}

// isAVPSet implements is_avp_set(name[/flags]): 1 when the AVP has a value
// (at the index written in name, the newest otherwise); flag n requires an
// integer, s a string, e an empty one ("" or 0).
func (m *avpops) isAVPSet(c *sr.Ctx, p []any) int {
	ia := p[0].(*isSetArgs)
	vals := ia.ref.values(c)
	i := ia.index
	if i < 0 {
		i = 0
	}
	if i >= len(vals) {
		return -1
	}
	v := vals[i]
	if ia.num && v.K != sr.Int || ia.str && v.K != sr.Str {
		return -1
	}
	if ia.empty {
		return truth(v.K == sr.Int && v.I == 0 || v.K == sr.Str && v.S == "")
	}
	return 1
}

// avpPrint implements avp_print(): every AVP of the message is logged at
// info level.
func (m *avpops) avpPrint(c *sr.Ctx, _ []any) int {
	c.AVPs.Each(func(a *sr.AVP) bool {
		attrs := []any{"flags", int(a.Flags)}
		if a.Name.IsID {
			attrs = append(attrs, "id", a.Name.ID)
		} else {
			attrs = append(attrs, "name", a.Name.S)
		}
		if a.Val.K == sr.Int {
			attrs = append(attrs, "val_int", a.Val.I)
		} else {
			attrs = append(attrs, "val_str", a.Val.Text())
		}
		c.Log.Info("avp_print", attrs...)
		return true
	})
	return 1
}

// insertArgs are the prepared arguments of avp_insert.
type insertArgs struct {
	ref   *avpRef
	val   sr.Getter
	fmt   sr.Format
	index int
}

func fixupInsert(_ *avpops, fx *module.Fixup, args []module.Arg) ([]any, error) {
	ref, err := compileAVP(fx, args[0], args[0].S)
	if err != nil {
		return nil, err
	}
	ia := &insertArgs{ref: ref}
	v := args[1]
	switch {
	case v.Kind == module.ArgInt:
		ia.fmt = sr.StaticFormat(v.S)
	case pvEnd(strings.TrimSpace(v.S)) == len(strings.TrimSpace(v.S)):
		if ia.val, err = fx.Getter(v); err != nil {
			return nil, err
		}
	default:
		if ia.fmt, err = fx.Format(v); err != nil {
			return nil, err
		}
	}
	if ia.index, err = fx.Int(args[2]); err != nil {
		return nil, err
	}
	if ia.index < 0 {
		return nil, fx.Errorf(args[2], "%s: the index must not be negative", fx.Func)
	}
	return []any{ia}, nil
}

// avpInsert implements avp_insert(name, value, index): value becomes the
// value number index (0 is the newest) of the AVP, the ones from there on
// moving one place.
func (m *avpops) avpInsert(c *sr.Ctx, p []any) int {
	ia := p[0].(*insertArgs)
	var v sr.Value
	if ia.val != nil {
		if v = ia.val.Get(c); v.IsNull() {
			return -1
		}
	} else {
		v = sr.StrVal(ia.fmt.Expand(c))
	}
	var olds []sr.AVP
	ia.ref.walk(c.AVPs, func(a *sr.AVP) bool { olds = append(olds, *a); return true })
	i := min(ia.index, len(olds))
	ia.ref.remove(c, -1)
	// Push everything back, oldest first, the new value at its place, so
	// that the values read back in the same order with the new one at i.
	for k := len(olds); k >= 0; k-- {
		switch {
		case k == i:
			ia.ref.add(c, v, 0)
		case k < i:
			c.AVPs.Add(olds[k].Name, olds[k].Val, olds[k].Flags)
		default:
			c.AVPs.Add(olds[k-1].Name, olds[k-1].Val, olds[k-1].Flags)
		}
	}
	return 1
}

func truth(b bool) int {
	if b {
		return 1
	}
	return -1
}

// globMatch is fnmatch without flags: * and ? match any character (/
// included), [...] a class ([!...] or [^...] negated, ranges a-z), and \
// quotes the next character.
func globMatch(pattern, s string, fold bool) bool {
	if fold {
		pattern, s = strings.ToLower(pattern), strings.ToLower(s)
	}
	px, sx := 0, 0
	nextPx, nextSx := -1, -1
	for px < len(pattern) || sx < len(s) {
		if px < len(pattern) {
			switch c := pattern[px]; c {
			case '*':
				nextPx, nextSx = px, sx+1
				px++
				continue
			case '?':
				if sx < len(s) {
					px++
					sx++
					continue
				}
			case '[':
				if sx < len(s) {
					if ok, width := matchClass(pattern[px:], s[sx]); width > 0 {
						if ok {
							px += width
							sx++
							continue
						}
						break
					}
				}
				if sx < len(s) && s[sx] == '[' {
					px++
					sx++
					continue
				}
			case '\\':
				if px+1 < len(pattern) && sx < len(s) && s[sx] == pattern[px+1] {
					px += 2
					sx++
					continue
				}
			default:
				if sx < len(s) && s[sx] == c {
					px++
					sx++
					continue
				}
			}
		}
		if nextSx > 0 && nextSx <= len(s) {
			px, sx = nextPx, nextSx
			continue
		}
		return false
	}
	return true
}

// matchClass matches c against the class at the start of p ("[...]");
// width is the class's length, 0 when it is not closed.
func matchClass(p string, c byte) (bool, int) {
	i := 1
	neg := false
	if i < len(p) && (p[i] == '!' || p[i] == '^') {
		neg = true
		i++
	}
	matched := false
	first := true
	for i < len(p) {
		if p[i] == ']' && !first {
			return matched != neg, i + 1
		}
		first = false
		lo := p[i]
		hi := lo
		if i+2 < len(p) && p[i+1] == '-' && p[i+2] != ']' {
			hi = p[i+2]
			i += 2
		}
		if lo <= c && c <= hi {
			matched = true
		}
		i++
	}
	return false, 0
}
