// Package genruntime holds internal/genruntime, the helpers the generated
// request builders and response parsers call, to the generator's own run-time
// library (github.com/oapi-codegen/runtime, which only this test module
// requires): for every call the generated code makes — each parameter of the
// spec with its style, location, type and format, each response header, each
// form body — both must give the same text, value or error on hostile input.
package genruntime

import (
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/meycoin/goetcd/generated"
	"github.com/meycoin/goetcd/internal/genruntime"
	"github.com/oapi-codegen/runtime"
)

// root is the repository root, the library module.
var root = filepath.Join("..", "..")

// generatedCode is generated/generated.gen.go, the calls to check.
func generatedCode(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "generated", "generated.gen.go"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// hostileStrings are texts that escaping gets wrong when it can: slashes
// (keys are paths), spaces, percent signs already escaped or not, the
// reserved characters of URLs, dot segments, control characters, non-ASCII
// and invalid UTF-8.
var hostileStrings = []string{
	"", "a", "a/b/c", "/leading", "trailing/", "//", "a b", " ", "a+b", "+",
	"100%", "%2F", "%25", "%zz", "%", "a%2Fb", ".", "..", "../x", "a/./b",
	"?", "#frag", "a&b=c", "=", ";", ",", "a,b", ":", "@", "!", "$", "'", "(", ")",
	"*", "[x]", "{key}", "<>", `"q"`, `\`, "^", "`", "|", "~-._",
	"\x00", "\n", "\r\n", "\t", "\x7f", "ünïcødé/ключ", "日本語", "🎉 emoji",
	"\u00a0nbsp", "\u200bzwsp", "\xff\xfe", "a\xc3", "\u2028",
}

// styleCall is one distinct StyleParamWithOptions call of the generated
// code.
type styleCall struct {
	style, name, location, typ, format string
	explode                            bool
}

var styleCallRE = regexp.MustCompile(`genruntime\.StyleParamWithOptions\("(\w+)", (true|false), "(\w+)", [^,]+, genruntime\.StyleParamOptions\{ParamLocation: genruntime\.ParamLocation(\w+), Type: "(\w*)", Format: "(\w*)"\}\)`)

// styleCalls returns the distinct parameter stylings of the generated code.
func styleCalls(t *testing.T) []styleCall {
	t.Helper()
	code := generatedCode(t)
	seen := map[styleCall]bool{}
	var out []styleCall
	for _, m := range styleCallRE.FindAllStringSubmatch(code, -1) {
		c := styleCall{style: m[1], explode: m[2] == "true", name: m[3], location: m[4], typ: m[5], format: m[6]}
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	if n, all := len(styleCallRE.FindAllString(code, -1)), strings.Count(code, "genruntime.StyleParamWithOptions("); n != all || n == 0 {
		t.Fatalf("%d of the generated code's %d StyleParamWithOptions calls have the expected form: update styleCallRE", n, all)
	}
	return out
}

// locations maps a location's name to both libraries' constants.
var locations = map[string]struct {
	ours   genruntime.ParamLocation
	theirs runtime.ParamLocation
}{
	"Query":  {genruntime.ParamLocationQuery, runtime.ParamLocationQuery},
	"Path":   {genruntime.ParamLocationPath, runtime.ParamLocationPath},
	"Header": {genruntime.ParamLocationHeader, runtime.ParamLocationHeader},
	"Cookie": {genruntime.ParamLocationCookie, runtime.ParamLocationCookie},
}

// namedBool and namedString stand for the spec's named parameter types.
type (
	namedBool   bool
	namedString string
)

// styleValues are the values to style for a parameter of an OpenAPI type
// and format: each as the generated code passes it, and behind a pointer.
func styleValues(t *testing.T, c styleCall) []any {
	t.Helper()
	var vs []any
	switch {
	case c.typ == "string":
		for _, s := range hostileStrings {
			vs = append(vs, s, namedString(s))
		}
	case c.typ == "boolean":
		vs = []any{true, false, namedBool(true), namedBool(false)}
	case c.typ == "integer" && c.format == "uint64":
		vs = []any{uint64(0), uint64(1), uint64(42), uint64(math.MaxInt64) + 1, uint64(math.MaxUint64)}
	case c.typ == "integer" && c.format == "int64":
		vs = []any{int64(0), int64(-1), int64(math.MinInt64), int64(math.MaxInt64)}
	case c.typ == "integer" && (c.format == "" || c.format == "int32"):
		vs = []any{0, -1, 7, math.MinInt, math.MaxInt}
	case c.typ == "array":
		vs = []any{[]string{}, []string{"one"}, []string{"a", "b"}, hostileStrings}
		for _, s := range hostileStrings {
			vs = append(vs, []string{s, s + "/" + s})
		}
	default:
		t.Fatalf("parameter %q has type %q format %q, which this test has no values for: add them", c.name, c.typ, c.format)
	}
	n := len(vs)
	for _, v := range vs[:n] {
		p := reflect.New(reflect.TypeOf(v))
		p.Elem().Set(reflect.ValueOf(v))
		vs = append(vs, p.Interface())
	}
	return vs
}

// TestStyleParamMatchesRuntime: every parameter styling of the generated
// code gives the same text (or an error in both) with genruntime as with the
// generator's library, for hostile values of the parameter's type.
func TestStyleParamMatchesRuntime(t *testing.T) {
	calls := styleCalls(t)
	compared := 0
	for _, c := range calls {
		loc, ok := locations[c.location]
		if !ok {
			t.Fatalf("parameter %q: unknown location %q", c.name, c.location)
		}
		for _, v := range styleValues(t, c) {
			ours, oerr := genruntime.StyleParamWithOptions(c.style, c.explode, c.name, v,
				genruntime.StyleParamOptions{ParamLocation: loc.ours, Type: c.typ, Format: c.format})
			theirs, terr := runtime.StyleParamWithOptions(c.style, c.explode, c.name, v,
				runtime.StyleParamOptions{ParamLocation: loc.theirs, Type: c.typ, Format: c.format})
			if ours != theirs || (oerr == nil) != (terr == nil) {
				t.Errorf("%s %q (%s, explode %v) of %T %#v: genruntime %q, %v; runtime %q, %v",
					c.location, c.name, c.style, c.explode, v, v, ours, oerr, theirs, terr)
			}
			compared++
		}
	}
	t.Logf("%d parameter stylings of the generated code, %d values compared", len(calls), compared)
}

// TestStyleParamRefusals: what genruntime does not support is an error, never
// a guess; a nil pointer is an error in both libraries.
func TestStyleParamRefusals(t *testing.T) {
	var nilString *string
	for _, c := range []struct {
		what  string
		style string
		value any
		opts  genruntime.StyleParamOptions
	}{
		{"nil pointer", "simple", nilString, genruntime.StyleParamOptions{ParamLocation: genruntime.ParamLocationPath}},
		{"nil", "simple", nil, genruntime.StyleParamOptions{ParamLocation: genruntime.ParamLocationPath}},
		{"struct", "form", struct{ A string }{"x"}, genruntime.StyleParamOptions{ParamLocation: genruntime.ParamLocationQuery}},
		{"map", "form", map[string]string{"a": "b"}, genruntime.StyleParamOptions{ParamLocation: genruntime.ParamLocationQuery}},
		{"text marshaler", "simple", url.URL{Path: "x"}, genruntime.StyleParamOptions{ParamLocation: genruntime.ParamLocationPath}},
		{"label style", "label", "x", genruntime.StyleParamOptions{ParamLocation: genruntime.ParamLocationPath}},
		{"byte format", "simple", []byte("x"), genruntime.StyleParamOptions{ParamLocation: genruntime.ParamLocationPath, Format: "byte"}},
		{"slice of structs", "form", []struct{}{{}}, genruntime.StyleParamOptions{ParamLocation: genruntime.ParamLocationQuery}},
	} {
		if got, err := genruntime.StyleParamWithOptions(c.style, true, "p", c.value, c.opts); err == nil {
			t.Errorf("%s: styled as %q, want an error", c.what, got)
		} else if !strings.Contains(err.Error(), `"p"`) {
			t.Errorf("%s: error %q does not name the parameter", c.what, err)
		}
	}
}

// bindCall is one distinct BindStyledParameterWithOptions call of the
// generated code, with the Go type of its destination.
type bindCall struct {
	goType, name, location, typ, format string
	required                            bool
}

var bindCallRE = regexp.MustCompile(`var value (\w+)\s+if err := genruntime\.BindStyledParameterWithOptions\("simple", "([\w-]+)", values\[0\], &value, genruntime\.BindStyledParameterOptions\{ParamLocation: genruntime\.ParamLocation(\w+), Explode: false, Required: (true|false), Type: "(\w*)", Format: "(\w*)"\}\)`)

// hostileHeaders are response header values: numbers at and past the limits
// of each width, signs, spaces, other bases, and text.
var hostileHeaders = []string{
	"", "0", "1", "-1", "+1", " 1", "1 ", "007", "42", "1,2", "1.5", "1e3", "0x10", "1_000",
	"2147483647", "2147483648", "-2147483649",
	"9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
	"18446744073709551615", "18446744073709551616", "99999999999999999999999",
	"true", "abc", "cdf818194e3a8c32", "%31", "a%2Fb", "a b", "ünï", "\xff", "a,b", ".5",
}

// TestBindMatchesRuntime: every response header the generated parsers bind
// gets the same value (or an error in both) from genruntime as from the
// generator's library.
func TestBindMatchesRuntime(t *testing.T) {
	code := generatedCode(t)
	seen := map[bindCall]bool{}
	for _, m := range bindCallRE.FindAllStringSubmatch(code, -1) {
		seen[bindCall{goType: m[1], name: m[2], location: m[3], required: m[4] == "true", typ: m[5], format: m[6]}] = true
	}
	if n, all := len(bindCallRE.FindAllString(code, -1)), strings.Count(code, "genruntime.BindStyledParameterWithOptions("); n != all || n == 0 {
		t.Fatalf("%d of the generated code's %d BindStyledParameterWithOptions calls have the expected form: update bindCallRE", n, all)
	}
	types := map[string]reflect.Type{
		"string": reflect.TypeFor[string](), "int": reflect.TypeFor[int](), "int32": reflect.TypeFor[int32](),
		"int64": reflect.TypeFor[int64](), "uint64": reflect.TypeFor[uint64](), "bool": reflect.TypeFor[bool](),
		"float32": reflect.TypeFor[float32](), "float64": reflect.TypeFor[float64](),
	}
	compared := 0
	for c := range seen {
		typ, ok := types[c.goType]
		if !ok {
			t.Fatalf("header %q binds into a %s, which this test does not know: add it", c.name, c.goType)
		}
		loc := locations[c.location]
		for _, required := range []bool{c.required, true} {
			for _, h := range hostileHeaders {
				ours, theirs := reflect.New(typ), reflect.New(typ)
				oerr := genruntime.BindStyledParameterWithOptions("simple", c.name, h, ours.Interface(),
					genruntime.BindStyledParameterOptions{ParamLocation: loc.ours, Required: required, Type: c.typ, Format: c.format})
				terr := runtime.BindStyledParameterWithOptions("simple", c.name, h, theirs.Interface(),
					runtime.BindStyledParameterOptions{ParamLocation: loc.theirs, Required: required, Type: c.typ, Format: c.format})
				if (oerr == nil) != (terr == nil) || (oerr == nil && !reflect.DeepEqual(ours.Elem().Interface(), theirs.Elem().Interface())) {
					t.Errorf("header %q (%s, required %v) = %q: genruntime %v, %v; runtime %v, %v",
						c.name, c.goType, required, h, ours.Elem(), oerr, theirs.Elem(), terr)
				}
				compared++
			}
		}
	}
	t.Logf("%d header bindings of the generated code, %d values compared", len(seen), compared)
}

// formTypes are the generated structs sent as form bodies, by name.
var formTypes = map[string]reflect.Type{
	"SetKeyForm":        reflect.TypeFor[generated.SetKeyForm](),
	"CreateInOrderForm": reflect.TypeFor[generated.CreateInOrderForm](),
}

var formBodyRE = regexp.MustCompile(`(?m)^type \w+FormdataRequestBody = (\w+)$`)

// fill sets each field of the struct v (pointers to primitives) to nil or to
// a value chosen by seed, so that successive seeds walk every field through
// nil and hostile values.
func fill(v reflect.Value, seed int) {
	for i := range v.NumField() {
		f := v.Field(i)
		choice := (seed + i*7) % (len(hostileStrings) + 1)
		if choice == len(hostileStrings) && f.Kind() == reflect.Pointer {
			continue // left nil
		}
		target := f
		if f.Kind() == reflect.Pointer {
			f.Set(reflect.New(f.Type().Elem()))
			target = f.Elem()
		}
		switch target.Kind() {
		case reflect.String:
			target.SetString(hostileStrings[choice%len(hostileStrings)])
		case reflect.Bool:
			target.SetBool(choice%2 == 0)
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			target.SetUint([]uint64{0, 1, 30, math.MaxUint32, math.MaxUint64}[choice%5] & (1<<target.Type().Bits() - 1))
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			target.SetInt([]int64{0, -1, 1, math.MinInt32, math.MaxInt32}[choice%5])
		default:
			panic(fmt.Sprintf("form field %s has kind %s, which fill does not know", v.Type().Field(i).Name, target.Kind()))
		}
	}
}

// TestMarshalFormMatchesRuntime: every form body of the generated code
// encodes to the same fields (and bytes) with genruntime as with the
// generator's library, for every field nil or set to hostile values.
func TestMarshalFormMatchesRuntime(t *testing.T) {
	code := generatedCode(t)
	bodies := formBodyRE.FindAllStringSubmatch(code, -1)
	if calls := strings.Count(code, "genruntime.MarshalForm("); calls != len(bodies) || calls == 0 {
		t.Fatalf("the generated code has %d MarshalForm calls and %d form body types: update formBodyRE", calls, len(bodies))
	}
	compared := 0
	for _, m := range bodies {
		typ, ok := formTypes[m[1]]
		if !ok {
			t.Fatalf("form body %s is not in formTypes: add it", m[1])
		}
		for seed := range 4 * (len(hostileStrings) + 1) {
			body := reflect.New(typ)
			if seed > 0 { // seed 0: the empty form
				fill(body.Elem(), seed)
			}
			ours, oerr := genruntime.MarshalForm(body.Elem().Interface(), nil)
			theirs, terr := runtime.MarshalForm(body.Elem().Interface(), nil)
			if oerr != nil || terr != nil || !reflect.DeepEqual(ours, theirs) || ours.Encode() != theirs.Encode() {
				t.Errorf("%s %+v: genruntime %v, %v; runtime %v, %v", m[1], body.Elem(), ours, oerr, theirs, terr)
			}
			compared++
		}
	}
	t.Logf("%d form bodies, %d values compared", len(bodies), compared)
}

// TestMarshalFormRefusals: what genruntime does not support is an error.
func TestMarshalFormRefusals(t *testing.T) {
	for _, c := range []struct {
		what string
		body any
		enc  map[string]genruntime.RequestBodyEncoding
	}{
		{"not a struct", "x", nil},
		{"nested struct", struct {
			A struct{ B string } `json:"a"`
		}{}, nil},
		{"slice field", struct {
			A []string `json:"a"`
		}{A: []string{"x"}}, nil},
		{"no name", struct{ A string }{"x"}, nil},
		{"encodings", generated.SetKeyForm{}, map[string]genruntime.RequestBodyEncoding{"value": {ContentType: "application/json"}}},
	} {
		if got, err := genruntime.MarshalForm(c.body, c.enc); err == nil {
			t.Errorf("%s: encoded as %v, want an error", c.what, got)
		}
	}
}
