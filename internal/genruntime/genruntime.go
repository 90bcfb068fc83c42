// Package genruntime holds the run-time helpers that the code in generated/
// calls: it turns parameters into their OpenAPI-styled text (path, query and
// header values), reads response headers back into Go values, and encodes
// form bodies.
//
// The generator's templates call these under the names of its own run-time
// library; templates.sh makes them from the pinned generator's templates,
// replacing that package's name by this one. Keeping these helpers in the
// library (standard library only) means that a program importing the client
// builds no code of the generator's run-time library and has none of its
// modules (nor their test dependencies) in its module graph.
//
// Only what the v2 spec uses is supported: primitive values (strings,
// booleans, integers, floats, also behind a pointer) and slices of them, the
// "simple" and "form" styles, and flat form structs. Anything else is
// refused with an error rather than encoded in a way that might differ; the
// tests in tests/genruntime compare every helper with the generator's own
// library on hostile values.
package genruntime

import (
	"encoding"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strconv"
	"strings"
)

// ParamLocation is where a parameter travels; it decides the escaping.
type ParamLocation int

// The locations a parameter can have.
const (
	// ParamLocationUndefined escapes nothing when styling and
	// query-unescapes when binding.
	ParamLocationUndefined ParamLocation = iota
	// ParamLocationQuery escapes with url.QueryEscape (a space becomes '+').
	ParamLocationQuery
	// ParamLocationPath escapes with url.PathEscape ('/' becomes %2F).
	ParamLocationPath
	// ParamLocationHeader sends the text as it is.
	ParamLocationHeader
	// ParamLocationCookie sends the text as it is.
	ParamLocationCookie
)

// StyleParamOptions says where a styled parameter goes and what its schema
// is.
type StyleParamOptions struct {
	// ParamLocation decides the escaping.
	ParamLocation ParamLocation
	// Type is the parameter's OpenAPI type (informational).
	Type string
	// Format is the parameter's OpenAPI format; "byte" is not supported.
	Format string
	// Required is whether the parameter is required (informational).
	Required bool
}

// StyleParamWithOptions returns value as the text of an OpenAPI parameter
// named paramName in the given style: for "simple", the value itself (a
// slice's elements joined with commas); for "form", name=value (a slice
// exploded as name=a&name=b, or name=a,b when not exploded). Names and values
// are escaped for the location. A nil pointer, an unsupported style or a
// value that is not a primitive or a slice of primitives is an error.
func StyleParamWithOptions(style string, explode bool, paramName string, value any, opts StyleParamOptions) (string, error) {
	if opts.Format == "byte" {
		return "", fmt.Errorf("parameter %q: format byte is not supported", paramName)
	}
	if style != "simple" && style != "form" {
		return "", fmt.Errorf("parameter %q: unsupported style %q", paramName, style)
	}
	v := reflect.ValueOf(value)
	if !v.IsValid() {
		return "", fmt.Errorf("parameter %q: no value", paramName)
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return "", fmt.Errorf("parameter %q: value is a nil pointer", paramName)
		}
		v = v.Elem()
	}
	name := escape(paramName, opts.ParamLocation)
	if v.Kind() != reflect.Slice {
		s, err := primitiveText(paramName, v)
		if err != nil {
			return "", err
		}
		s = escape(s, opts.ParamLocation)
		if style == "form" {
			return name + "=" + s, nil
		}
		return s, nil
	}
	parts := make([]string, v.Len())
	for i := range parts {
		s, err := primitiveText(paramName, v.Index(i))
		if err != nil {
			return "", err
		}
		parts[i] = escape(s, opts.ParamLocation)
	}
	switch {
	case style == "simple":
		return strings.Join(parts, ","), nil
	case explode:
		return name + "=" + strings.Join(parts, "&"+name+"="), nil
	default:
		return name + "=" + strings.Join(parts, ","), nil
	}
}

// escape escapes s for a parameter's location.
func escape(s string, loc ParamLocation) string {
	switch loc {
	case ParamLocationQuery:
		return url.QueryEscape(s)
	case ParamLocationPath:
		return url.PathEscape(s)
	default:
		return s
	}
}

// textMarshaler is the interface whose implementers are refused: their text
// form is their own business, not the kind's.
var textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()

// primitiveText is the text of a primitive value (behind at most one
// pointer, as slice elements may be).
func primitiveText(paramName string, v reflect.Value) (string, error) {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return "", fmt.Errorf("parameter %q: value is a nil pointer", paramName)
		}
		v = v.Elem()
	}
	if v.Type().Implements(textMarshaler) || reflect.PointerTo(v.Type()).Implements(textMarshaler) {
		return "", fmt.Errorf("parameter %q: values of type %s (a text marshaler) are not supported", paramName, v.Type())
	}
	switch v.Kind() {
	case reflect.String:
		return v.String(), nil
	case reflect.Bool:
		return strconv.FormatBool(v.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10), nil
	case reflect.Float32:
		return strconv.FormatFloat(v.Float(), 'f', -1, 32), nil
	case reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'f', -1, 64), nil
	}
	return "", fmt.Errorf("parameter %q: values of type %s are not supported", paramName, v.Type())
}

// BindStyledParameterOptions says where a parameter came from and what its
// schema is.
type BindStyledParameterOptions struct {
	// ParamLocation decides the unescaping (none for headers and cookies).
	ParamLocation ParamLocation
	// Explode is the parameter's explode flag (informational for the
	// primitive values supported).
	Explode bool
	// Required makes an empty value an error.
	Required bool
	// Type is the parameter's OpenAPI type (informational).
	Type string
	// Format is the parameter's OpenAPI format; "byte" is not supported.
	Format string
}

// BindStyledParameterWithOptions parses value, the "simple"-styled text of
// the parameter paramName, into dest, a pointer to a primitive (or to a
// pointer to one, which is allocated). Integers are decimal and must fit
// dest; booleans are what strconv.ParseBool accepts. An empty required value,
// a value that does not parse, or an unsupported style or destination is an
// error.
func BindStyledParameterWithOptions(style string, paramName string, value string, dest any, opts BindStyledParameterOptions) error {
	if opts.Required && value == "" {
		return fmt.Errorf("parameter %q is empty", paramName)
	}
	if style != "simple" {
		return fmt.Errorf("parameter %q: unsupported style %q", paramName, style)
	}
	if opts.Format == "byte" {
		return fmt.Errorf("parameter %q: format byte is not supported", paramName)
	}
	var err error
	switch opts.ParamLocation {
	case ParamLocationQuery, ParamLocationUndefined:
		value, err = url.QueryUnescape(value)
	case ParamLocationPath:
		value, err = url.PathUnescape(value)
	}
	if err != nil {
		return fmt.Errorf("parameter %q: %w", paramName, err)
	}
	v := reflect.ValueOf(dest)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return fmt.Errorf("parameter %q: destination %T is not a non-nil pointer", paramName, dest)
	}
	v = v.Elem()
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		v = v.Elem()
	}
	if reflect.PointerTo(v.Type()).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
		return fmt.Errorf("parameter %q: destination type %s (a text unmarshaler) is not supported", paramName, v.Type())
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(value)
	case reflect.Bool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return fmt.Errorf("parameter %q: %w", paramName, err)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(value, 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("parameter %q: %w", paramName, err)
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(value, 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("parameter %q: %w", paramName, err)
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(value, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("parameter %q: %w", paramName, err)
		}
		v.SetFloat(f)
	default:
		return fmt.Errorf("parameter %q: destination type %s is not supported", paramName, v.Type())
	}
	return nil
}

// RequestBodyEncoding would give a form field its own content type; no field
// of the spec has one, and MarshalForm refuses any.
type RequestBodyEncoding struct {
	// ContentType is the field's content type.
	ContentType string
}

// MarshalForm returns the form fields of body, a struct (or a pointer to
// one) of primitive fields, pointers to primitives among them: each field
// under its `form` tag name, else its `json` tag name; a field tagged "-",
// and a field tagged ",omitempty" that holds its zero value (a nil pointer),
// is left out; a nil pointer is left out too. Per-field encodings, nested
// structs, slices and maps are refused with an error.
func MarshalForm(body any, encodings map[string]RequestBodyEncoding) (url.Values, error) {
	if len(encodings) != 0 {
		return nil, errors.New("form body: per-field encodings are not supported")
	}
	v := reflect.Indirect(reflect.ValueOf(body))
	if v.Kind() != reflect.Struct {
		return nil, fmt.Errorf("form body: %T is not a struct", body)
	}
	out := url.Values{}
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag, ok := f.Tag.Lookup("form")
		if !ok || tag == "" {
			tag = f.Tag.Get("json")
		}
		if tag == "-" {
			continue
		}
		fv := v.Field(i)
		if strings.HasSuffix(tag, ",omitempty") && fv.IsZero() {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "" {
			return nil, fmt.Errorf("form body: field %s of %s has no form or json name", f.Name, t)
		}
		if fv.Kind() == reflect.Pointer {
			if fv.IsNil() {
				continue
			}
			fv = fv.Elem()
		}
		switch fv.Kind() {
		case reflect.String, reflect.Bool,
			reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
			reflect.Float32, reflect.Float64:
			out[name] = append(out[name], fmt.Sprint(fv.Interface()))
		default:
			return nil, fmt.Errorf("form body: field %s of %s: type %s is not supported", f.Name, t, fv.Type())
		}
	}
	return out, nil
}
