package sr

// Getter is a compiled pseudo-variable, AVP, select or expression that
// yields a value for a message.
type Getter interface {
	Get(c *Ctx) Value
}

// Setter is a pseudo-variable that can be assigned to ($ru, $var(x), $avp(y) …).
type Setter interface {
	Getter
	Set(c *Ctx, v Value) error
}

// Format is a compiled string template with pseudo-variables in it, as
// xlog, append_hf and sl_send_reply take ("From $fu to $ru\n").
type Format interface {
	Expand(c *Ctx) string
	// Static reports whether the format holds no variables, and its text.
	Static() (string, bool)
}

// StaticFormat is a Format without variables.
type StaticFormat string

// Expand returns the text.
func (s StaticFormat) Expand(*Ctx) string { return string(s) }

// Static returns the text and true.
func (s StaticFormat) Static() (string, bool) { return string(s), true }
