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
		return settingsError(err, v)
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
	// "retry.max" inside an object), or "" when the settings as a whole
	// are wrong.
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

// BadSetting returns a *SettingsError for field, the message formatted as
// with fmt.Sprintf. Say what is wrong and what would be right; never quote
// a secret.
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
func settingsError(err error, v any) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		return &SettingsError{Field: typeErr.Field, Err: typeMismatch(typeErr)}
	case errors.As(err, &syntaxErr):
		return &SettingsError{Err: fmt.Errorf("not valid JSON at byte %d: %w", syntaxErr.Offset, err)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return &SettingsError{Field: name, Err: unknownSetting(v)}
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

// unknownSetting lists the settings v takes, so a typo's fix is in the error.
func unknownSetting(v any) error {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return errors.New("unknown setting")
	}
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-" || !f.IsExported():
			continue
		case name == "":
			name = f.Name
		}
		names = append(names, name)
	}
	// encoding/json names the key but not the object it is in, so the list
	// is of the top level, said as such.
	return fmt.Errorf("unknown setting (the top-level settings are %s)", strings.Join(names, ", "))
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
