package sdk

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// DecodeSettings decodes a provider's settings (Config.Settings, the
// provider block's config attribute as JSON) into the struct v points to,
// the way operators expect every plugin to:
//
//   - a setting v has no field for is refused, so a misspelt name is an
//     error at start-up, not a default silently used;
//   - every error is a *SettingsError naming the setting ("setting
//     request_timeout: ..."), so config validation can point at its line;
//   - Duration fields take strings such as "15s" or "2m30s";
//   - Secret fields never print, in errors, logs or JSON;
//   - absent settings keep what v held, so set defaults before decoding;
//     empty or null settings decode as {};
//   - when v has a method Validate() error, it runs last: put the checks
//     between settings there (return BadSetting errors).
//
// DecodeSettings only decodes and checks: it opens no connection, so a
// provider can run it to validate settings without starting (call it first
// thing in Configure, and from anything that validates configuration).
func DecodeSettings(settings json.RawMessage, v any) error {
	trimmed := bytes.TrimSpace(settings)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		trimmed = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return settingsError(err, trimmed, v)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &SettingsError{Err: errors.New("unexpected data after the settings object")}
	}
	if val, ok := v.(interface{ Validate() error }); ok {
		return val.Validate()
	}
	return nil
}

// SettingsError is a setting DecodeSettings or a Validate method refused.
type SettingsError struct {
	// Field is the setting's name as the operator writes it ("base_url";
	// "retry.max" inside an object; "phones.1.number" in a list's second
	// element, indexes from 0), or "" when the settings as a whole are
	// wrong. smsrouter config validate points at the line of the longest
	// part of it the config file has, so "phones[1]" points only at the
	// config block.
	Field string
	Err   error
}

func (e *SettingsError) Error() string {
	if e.Field == "" {
		return "settings: " + e.Err.Error()
	}
	return "setting " + e.Field + ": " + e.Err.Error()
}

func (e *SettingsError) Unwrap() error { return e.Err }

// BadSetting returns a *SettingsError for field (a name as in
// SettingsError.Field: BadSetting(fmt.Sprintf("phones.%d.number", i), ...)),
// the message formatted as with fmt.Sprintf. Say what is wrong and what
// would be right; never quote a secret.
func BadSetting(field, format string, args ...any) error {
	return &SettingsError{Field: field, Err: fmt.Errorf(format, args...)}
}

// InRange returns a *SettingsError unless lo <= v <= hi.
func InRange[T cmp.Ordered](field string, v, lo, hi T) error {
	if v < lo || v > hi {
		return BadSetting(field, "%v is out of range, want %v to %v", v, lo, hi)
	}
	return nil
}

// settingsError turns encoding/json's errors into ones that name the setting.
func settingsError(err error, data []byte, v any) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		return &SettingsError{Field: typeErr.Field, Err: typeMismatch(typeErr)}
	case errors.As(err, &syntaxErr):
		return &SettingsError{Err: fmt.Errorf("not valid JSON at byte %d: %w", syntaxErr.Offset, err)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return unknownSetting(data, reflect.TypeOf(v), name)
	}
	var se *SettingsError
	if errors.As(err, &se) {
		return se
	}
	return &SettingsError{Err: err}
}

func typeMismatch(e *json.UnmarshalTypeError) error {
	switch e.Type {
	case reflect.TypeFor[Duration]():
		return fmt.Errorf("%s is not a duration such as \"15s\" or \"2m30s\"", e.Value)
	case reflect.TypeFor[Secret]():
		return fmt.Errorf("want a string, got %s", strings.Fields(e.Value)[0])
	}
	return fmt.Errorf("want %s, got %s", kindName(e.Type), e.Value)
}

// kindName says what a Go type takes, in an operator's words.
func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return kindName(t.Elem())
	}
	return t.String()
}

// unknownSetting names the unknown key encoding/json reported by its path
// ("auth.usr") and lists the settings of the object it is in, so a typo's fix
// is in the error. encoding/json gives only the key, so the key is looked up
// in data against the settings type t.
func unknownSetting(data []byte, t reflect.Type, name string) error {
	path, fields, ok := findUnknown(data, t, name)
	if !ok {
		return &SettingsError{Field: name, Err: errors.New("unknown setting")}
	}
	where := "the top-level settings are"
	if parent, _, nested := cutLast(path); nested {
		where = "the settings in " + parent + " are"
	}
	return &SettingsError{Field: path, Err: fmt.Errorf("unknown setting (%s %s)", where, strings.Join(fields, ", "))}
}

// findUnknown returns the path of key name where data has it but t has no
// field for it, and the names t's object there takes.
func findUnknown(data []byte, t reflect.Type, name string) (path string, names []string, ok bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		var obj map[string]json.RawMessage
		if json.Unmarshal(data, &obj) != nil {
			return "", nil, false
		}
		fields := settingFields(t)
		for key, val := range obj {
			f, known := lookupSetting(fields, key)
			if !known && key == name {
				return key, fieldNames(fields), true
			}
			if p, n, found := findUnknown(val, f.Type, name); known && found {
				return key + "." + p, n, true
			}
		}
	case reflect.Slice, reflect.Array, reflect.Map:
		var elems map[string]json.RawMessage
		var list []json.RawMessage
		if json.Unmarshal(data, &list) == nil {
			elems = make(map[string]json.RawMessage, len(list))
			for i, e := range list {
				elems[strconv.Itoa(i)] = e
			}
		} else if json.Unmarshal(data, &elems) != nil {
			return "", nil, false
		}
		for key, e := range elems {
			if p, n, found := findUnknown(e, t.Elem(), name); found {
				return key + "." + p, n, true
			}
		}
	}
	return "", nil, false
}

// setting is one field of a settings struct under the name operators write.
type setting struct {
	name string
	reflect.StructField
}

// settingFields lists the settings a struct takes, in order, with the
// fields of embedded structs promoted as encoding/json promotes them.
func settingFields(t reflect.Type) []setting {
	var out []setting
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-" || (!f.IsExported() && !f.Anonymous):
			continue
		case name == "" && f.Anonymous && f.Type.Kind() == reflect.Struct:
			out = append(out, settingFields(f.Type)...)
			continue
		case name == "":
			name = f.Name
		}
		out = append(out, setting{name: name, StructField: f})
	}
	return out
}

// lookupSetting finds key's field the way encoding/json does: exact name
// first, then ignoring case.
func lookupSetting(fields []setting, key string) (setting, bool) {
	for _, f := range fields {
		if f.name == key {
			return f, true
		}
	}
	for _, f := range fields {
		if strings.EqualFold(f.name, key) {
			return f, true
		}
	}
	return setting{}, false
}

func fieldNames(fields []setting) []string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	return names
}

// cutLast splits "a.b.c" into "a.b" and "c".
func cutLast(path string) (parent, last string, nested bool) {
	i := strings.LastIndexByte(path, '.')
	if i < 0 {
		return "", path, false
	}
	return path[:i], path[i+1:], true
}

// Duration is a time.Duration that settings give as a string such as "15s"
// or "2m30s" (time.ParseDuration), never as a bare number, whose unit would
// be a guess.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d as time.Duration does ("15s").
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes d as a string such as "15s", which UnmarshalJSON reads back.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a string such as "15s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return &json.UnmarshalTypeError{Value: string(b), Type: reflect.TypeFor[Duration]()}
	}
	parsed, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return &json.UnmarshalTypeError{Value: strconv.Quote(s), Type: reflect.TypeFor[Duration]()}
	}
	*d = Duration(parsed)
	return nil
}

// redacted is what a Secret prints as.
const redacted = "[redacted]"

// Secret is a setting that must never be shown: an API key, a password, a
// signing key. It prints as "[redacted]" with every fmt verb, in JSON and
// through log/slog, so a settings struct can be logged or put in an error
// whole. Convert it with string(s), or Reveal, only where it is used.
type Secret string

// Reveal returns the secret itself.
func (s Secret) Reveal() string { return string(s) }

// String returns "[redacted]".
func (s Secret) String() string { return redacted }

// GoString returns "[redacted]", for %#v.
func (s Secret) GoString() string { return redacted }

// Format writes "[redacted]" whatever the verb (%s, %q, %x, %v…).
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// MarshalJSON writes "[redacted]", so settings echoed as JSON keep the secret.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(redacted) }

// LogValue keeps the secret out of log/slog records.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }
