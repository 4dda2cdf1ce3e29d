package server

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/smsrouter/smsrouter/core"
)

// Text the database cannot store (PostgreSQL refuses NUL and bytes that
// are not UTF-8, and a lone UTF-16 surrogate has no UTF-8 form) is refused
// here, at the edge, with the same 422 on both drivers: let through, it
// fails deep in a query with a 500, and in a shared commit it failed the
// requests of other callers batched with it.

// checkInput refuses requests whose path parameters, query parameters or
// Idempotency-Key hold text the database cannot store, before any handler
// reads them. JSON bodies are checked by decodeBody.
func checkInput(c *gin.Context) {
	for _, p := range c.Params {
		if why := core.TextProblem(p.Value); why != "" {
			fail(c, http.StatusUnprocessableEntity, fmt.Sprintf("the %s in the path %s", p.Key, why))
			return
		}
	}
	for name, values := range c.Request.URL.Query() {
		if why := core.TextProblem(name); why != "" {
			fail(c, http.StatusUnprocessableEntity, "a query parameter's name "+why)
			return
		}
		for _, v := range values {
			if why := core.TextProblem(v); why != "" {
				fail(c, http.StatusUnprocessableEntity, fmt.Sprintf("query parameter %s %s", name, why))
				return
			}
		}
	}
	if why := core.TextProblem(c.GetHeader("Idempotency-Key")); why != "" {
		fail(c, http.StatusUnprocessableEntity, "Idempotency-Key "+why+"; use letters, digits and dashes, such as a UUID")
		return
	}
	c.Next()
}

// jsonTextProblem reads a JSON document's strings as sent, before decoding
// turns invalid UTF-8 and lone surrogate escapes into U+FFFD (so that a
// check after decoding could never see them), and names the first field
// whose text cannot be stored with what is wrong with it. It returns ""
// when every string is fine; syntax errors are left to the decoder.
func jsonTextProblem(body []byte) string {
	var outer []string // the keys of the enclosing containers
	key := ""          // the last key read in the current object
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '{', '[':
			outer = append(outer, key)
			key = ""
		case '}', ']':
			if n := len(outer); n > 0 {
				key, outer = outer[n-1], outer[:n-1]
			}
		case '"':
			end, why := scanJSONString(body, i)
			isKey := followedByColon(body, end+1)
			if why != "" {
				if isKey {
					return "a field name in the request body " + why
				}
				return fieldPath(outer, key) + " " + why
			}
			if isKey {
				key = string(body[i+1 : end])
			}
			i = end
		}
	}
	return ""
}

// scanJSONString reads the string starting at body[start] (a quote) and
// returns the index of its closing quote (len(body) when there is none)
// and the first problem in it.
func scanJSONString(body []byte, start int) (end int, why string) {
	for j := start + 1; j < len(body); {
		c := body[j]
		switch {
		case c == '"':
			return j, why
		case c == 0:
			why = cmp.Or(why, core.TextProblem("\x00"))
			j++
		case c == '\\' && j+1 < len(body) && body[j+1] == 'u':
			width, p := escapeAt(body, j)
			why = cmp.Or(why, p)
			j += width
		case c == '\\':
			j += 2
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(body[j:])
			if r == utf8.RuneError && size == 1 {
				why = cmp.Or(why, core.TextProblem("\xff"))
			}
			j += size
		default:
			j++
		}
	}
	return len(body), why
}

// escapeAt checks the \uXXXX escape at body[j] and returns its width (12
// for a surrogate pair) and its problem: NUL, or a surrogate without its
// other half.
func escapeAt(body []byte, j int) (width int, why string) {
	const lone = "contains a lone UTF-16 surrogate (\\u%04x), which is no character"
	r, ok := hex4(body, j+2)
	switch {
	case !ok:
		return 6, ""
	case r == 0:
		return 6, core.TextProblem("\x00")
	case r >= 0xDC00 && r < 0xE000:
		return 6, fmt.Sprintf(lone, r)
	case r >= 0xD800 && r < 0xDC00:
		if lo, ok := hex4(body, j+8); ok && body[j+6] == '\\' && body[j+7] == 'u' && lo >= 0xDC00 && lo < 0xE000 {
			return 12, ""
		}
		return 6, fmt.Sprintf(lone, r)
	}
	return 6, ""
}

// hex4 reads the four hex digits at body[i].
func hex4(body []byte, i int) (rune, bool) {
	if i < 0 || i+4 > len(body) {
		return 0, false
	}
	var r rune
	for _, c := range body[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

func followedByColon(body []byte, i int) bool {
	for ; i < len(body); i++ {
		switch body[i] {
		case ' ', '\t', '\r', '\n':
		case ':':
			return true
		default:
			return false
		}
	}
	return false
}

// fieldPath names a field for an error: "message", "tags.campaign", "to"
// for an element of the to list.
func fieldPath(outer []string, key string) string {
	var parts []string
	for _, k := range append(outer, key) {
		if k != "" {
			parts = append(parts, k)
		}
	}
	if len(parts) == 0 {
		return "the request body"
	}
	return strings.Join(parts, ".")
}

// decodeJSON decodes body into v, a pointer to a struct, answering 422
// with the field at fault when it cannot: text that cannot be stored, a
// field v does not have (a typo would otherwise be dropped in silence), a
// value of the wrong type or one the field's type refuses.
func decodeJSON(c *gin.Context, body []byte, v any) bool {
	if why := jsonTextProblem(body); why != "" {
		fail(c, http.StatusUnprocessableEntity, why)
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	}
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			err = errors.New("text after the JSON object")
		}
	}
	if err == nil {
		return true
	}
	fail(c, http.StatusUnprocessableEntity, decodeProblem(body, v, err))
	return false
}

// decodeProblem turns a decoding error into an answer naming the field.
func decodeProblem(body []byte, v any, err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te) && te.Field != "":
		return typeProblem(reflect.TypeOf(v), te)
	case errors.As(err, &te):
		return "request body must be a JSON object"
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "request body is not valid JSON: " + err.Error()
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fmt.Sprintf("unknown field %s; this endpoint takes %s", name, strings.Join(jsonFields(reflect.TypeOf(v)), ", "))
	}
	if name := refusedField(body, v); name != "" {
		return name + ": " + err.Error()
	}
	return "request body is not valid JSON: " + err.Error()
}

// typeProblem names the field of a value of the wrong type the way the
// request names it: without the Go names of embedded structs the decoder
// puts in its path ("scheduling.validity"), and saying so when the field
// is an object whose values are of the wrong type.
func typeProblem(t reflect.Type, te *json.UnmarshalTypeError) string {
	var path []string
	for part := range strings.SplitSeq(te.Field, ".") {
		f, ok := jsonField(t, part)
		if !ok {
			if len(path) > 0 || t == nil { // not a Go struct field: keep it
				path = append(path, part)
			}
			continue
		}
		path = append(path, part)
		t = f
	}
	want := te.Type.String()
	switch te.Type.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32:
		want = "whole number"
	case reflect.Float64, reflect.Float32:
		want = "number"
	}
	name := strings.Join(path, ".")
	switch {
	case t != nil && t.Kind() == reflect.Map && te.Type == t.Elem():
		return fmt.Sprintf("every value of %s must be a %s", name, want)
	case t != nil && t.Kind() == reflect.Slice && te.Type == t.Elem():
		return fmt.Sprintf("every entry of %s must be a %s", name, want)
	}
	return fmt.Sprintf("%s must be a %s", name, want)
}

// jsonField returns the type of the field a struct type (or pointer to
// one) has under a JSON name, looking into embedded structs.
func jsonField(t reflect.Type, name string) (reflect.Type, bool) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil, false
	}
	for f := range t.Fields() {
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case f.Anonymous && tag == "":
			if ft, ok := jsonField(f.Type, name); ok {
				return ft, true
			}
		case tag == name, tag == "" && f.Name == name:
			return f.Type, true
		}
	}
	return nil, false
}

// refusedField finds the top-level field whose own decoding (a custom
// UnmarshalJSON, such as an amount with too many decimals) failed: the
// decoder's error does not say which field it was.
func refusedField(body []byte, v any) string {
	var fields map[string]json.RawMessage
	t := reflect.TypeOf(v)
	if json.Unmarshal(body, &fields) != nil || t.Kind() != reflect.Pointer {
		return ""
	}
	for _, name := range jsonFields(t) {
		raw, ok := fields[name]
		if !ok {
			continue
		}
		one, _ := json.Marshal(map[string]json.RawMessage{name: raw})
		if json.Unmarshal(one, reflect.New(t.Elem()).Interface()) != nil {
			return name
		}
	}
	return ""
}

// jsonFields lists the JSON names of a struct's fields, embedded structs'
// included, in order.
func jsonFields(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-":
		case f.Anonymous && name == "":
			out = append(out, jsonFields(f.Type)...)
		case !f.IsExported():
		case name != "":
			out = append(out, name)
		default:
			out = append(out, f.Name)
		}
	}
	return out
}
