package module

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"sip-router.org/core/sr"
)

// ParamValue is implemented by parameter field types that parse their own
// value (a flag given by number or by SER flag name, a list in one string …).
type ParamValue interface {
	// SetParam sets the value from a modparam line.
	SetParam(v sr.Value, env *ParamEnv) error
	// ParamType names the type for documentation and errors ("int", "flag" …).
	ParamType() string
}

// ParamEnv is what a modparam line can refer to besides its value.
type ParamEnv struct {
	// Flag resolves a SER flag name declared with "flags NAME: n" earlier
	// in the configuration.
	Flag func(name string) (int, bool)
}

// ParamDef is a typed module parameter, taken from a field of the module's
// instance type tagged `modparam:"name"`. Optional tags `min:"n"` and
// `max:"n"` bound an int. A slice field accepts the parameter many times
// (each line adds a value), any other field keeps the last value set.
type ParamDef struct {
	Name string
	// Type is "int", "string", or a ParamValue's ParamType.
	Type string
	// Default is the default value as text, "" for an empty string.
	Default string
	// Multi is true when the parameter may be given several times.
	Multi    bool
	Min, Max *int

	index []int
}

var paramValueType = reflect.TypeOf((*ParamValue)(nil)).Elem()

func paramsOf(inst any) ([]*ParamDef, error) {
	v := reflect.ValueOf(inst)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		// A module without parameters may use any type.
		return nil, nil
	}
	var defs []*ParamDef
	if err := collectParams(v.Elem(), nil, &defs); err != nil {
		return nil, err
	}
	return defs, nil
}

func collectParams(v reflect.Value, index []int, defs *[]*ParamDef) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		idx := append(append([]int(nil), index...), i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct && f.Tag.Get("modparam") == "" {
			if err := collectParams(v.Field(i), idx, defs); err != nil {
				return err
			}
			continue
		}
		name := f.Tag.Get("modparam")
		if name == "" {
			continue
		}
		if !f.IsExported() {
			return fmt.Errorf("parameter %s: field %s is not exported", name, f.Name)
		}
		fv := v.Field(i)
		d := &ParamDef{Name: name, index: idx}
		switch {
		case reflect.PointerTo(f.Type).Implements(paramValueType):
			pv := fv.Addr().Interface().(ParamValue)
			d.Type = pv.ParamType()
			d.Default = fmt.Sprint(fv.Interface())
		case f.Type.Kind() == reflect.Int:
			d.Type = "int"
			d.Default = strconv.Itoa(int(fv.Int()))
		case f.Type.Kind() == reflect.Bool:
			d.Type = "int"
			if fv.Bool() {
				d.Default = "1"
			} else {
				d.Default = "0"
			}
		case f.Type.Kind() == reflect.String:
			d.Type = "string"
			d.Default = fv.String()
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.String:
			d.Type, d.Multi = "string", true
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Int:
			d.Type, d.Multi = "int", true
		default:
			return fmt.Errorf("parameter %s: field type %s is not supported", name, f.Type)
		}
		for _, b := range []struct {
			tag string
			dst **int
		}{{"min", &d.Min}, {"max", &d.Max}} {
			if s := f.Tag.Get(b.tag); s != "" {
				n, err := strconv.Atoi(s)
				if err != nil {
					return fmt.Errorf("parameter %s: bad %s tag %q", name, b.tag, s)
				}
				*b.dst = &n
			}
		}
		*defs = append(*defs, d)
	}
	return nil
}

// ErrParamType is returned when a modparam value has the wrong type.
var ErrParamType = errors.New("wrong type")

// set assigns v to the parameter in instance inst.
func (d *ParamDef) set(inst any, v sr.Value, env *ParamEnv) error {
	fv := reflect.ValueOf(inst).Elem().FieldByIndex(d.index)
	if pv, ok := fv.Addr().Interface().(ParamValue); ok {
		return pv.SetParam(v, env)
	}
	wantInt := d.Type == "int"
	if wantInt && v.K != sr.Int {
		return fmt.Errorf("%w: it is an int, the value given is a string (write it without quotes)", ErrParamType)
	}
	if !wantInt && v.K != sr.Str {
		return fmt.Errorf("%w: it is a string, the value given is an int (write it in quotes)", ErrParamType)
	}
	if wantInt {
		if d.Min != nil && v.I < *d.Min {
			return fmt.Errorf("value %d is below the minimum %d", v.I, *d.Min)
		}
		if d.Max != nil && v.I > *d.Max {
			return fmt.Errorf("value %d is above the maximum %d", v.I, *d.Max)
		}
	}
	switch fv.Kind() {
	case reflect.Int:
		fv.SetInt(int64(v.I))
	case reflect.Bool:
		fv.SetBool(v.I != 0)
	case reflect.String:
		fv.SetString(v.S)
	case reflect.Slice:
		if wantInt {
			fv.Set(reflect.Append(fv, reflect.ValueOf(v.I)))
		} else {
			fv.Set(reflect.Append(fv, reflect.ValueOf(v.S)))
		}
	}
	return nil
}

// Describe formats the parameter as the module READMEs title it:
// "fr_timer (int, default 30000)".
func (d *ParamDef) Describe() string {
	switch {
	case d.Multi:
		return fmt.Sprintf("%s (%s, may be repeated)", d.Name, d.Type)
	case d.Type == "string" && d.Default == "":
		return fmt.Sprintf("%s (string, default empty)", d.Name)
	case d.Type == "string":
		return fmt.Sprintf("%s (string, default %q)", d.Name, d.Default)
	}
	return fmt.Sprintf("%s (%s, default %s)", d.Name, d.Type, strings.TrimSpace(d.Default))
}
