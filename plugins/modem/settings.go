package modem

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/smsrouter/smsrouter/sdk"
)

// Setting limits; values outside them are configuration mistakes.
const (
	maxPorts     = 256
	maxBatchSize = 256
)

// settings is the provider block's config.
type settings struct {
	// Ports are device paths or globs, each a string or an object with
	// per-port settings.
	Ports []portSetting `json:"ports"`
	// The defaults every port takes unless its own entry says otherwise.
	Baud         int          `json:"baud"`
	PIN          sdk.Secret   `json:"pin"`
	SMSC         string       `json:"smsc"`
	SendInterval sdk.Duration `json:"send_interval"`
	MaxPerDay    int          `json:"max_per_day"`

	StatusReports   bool              `json:"status_reports"`
	HealthInterval  sdk.Duration      `json:"health_interval"`
	CommandTimeout  sdk.Duration      `json:"command_timeout"`
	SendTimeout     sdk.Duration      `json:"send_timeout"`
	ReopenBackoff   sdk.Duration      `json:"reopen_backoff"`
	ReopenMax       sdk.Duration      `json:"reopen_backoff_max"`
	Reassembly      sdk.Duration      `json:"reassembly_timeout"`
	ReportWindow    sdk.Duration      `json:"report_window"`
	MaxBatch        int               `json:"max_batch_size"`
	OperatorPrefix  map[string]string `json:"operator_prefixes"`
	DuplicateWindow sdk.Duration      `json:"duplicate_window"`
	StateFile       string            `json:"state_file"`
}

// portSetting is one entry of ports: a path (or glob) and what it changes
// of the provider-wide defaults.
type portSetting struct {
	Path         string        `json:"path"`
	Baud         int           `json:"baud"`
	PIN          sdk.Secret    `json:"pin"`
	SMSC         string        `json:"smsc"`
	Number       string        `json:"number"`
	SendInterval *sdk.Duration `json:"send_interval"`
	MaxPerDay    *int          `json:"max_per_day"`
}

// UnmarshalJSON takes a bare path string or an object.
func (ps *portSetting) UnmarshalJSON(b []byte) error {
	var path string
	if err := json.Unmarshal(b, &path); err == nil {
		*ps = portSetting{Path: path}
		return nil
	}
	type plain portSetting
	var p plain
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("a port is a device path or an object {path, baud, pin, smsc, number, send_interval, max_per_day}: %w", err)
	}
	*ps = portSetting(p)
	return nil
}

func defaultSettings() settings {
	return settings{
		Baud:            115200,
		SendInterval:    sdk.Duration(time.Second),
		StatusReports:   true,
		HealthInterval:  sdk.Duration(30 * time.Second),
		CommandTimeout:  sdk.Duration(10 * time.Second),
		SendTimeout:     sdk.Duration(60 * time.Second),
		ReopenBackoff:   sdk.Duration(time.Second),
		ReopenMax:       sdk.Duration(time.Minute),
		Reassembly:      sdk.Duration(5 * time.Minute),
		ReportWindow:    sdk.Duration(72 * time.Hour),
		MaxBatch:        32,
		DuplicateWindow: sdk.Duration(10 * time.Minute),
	}
}

var (
	pinPattern    = regexp.MustCompile(`^[0-9]{4,8}$`)
	numberPattern = regexp.MustCompile(`^\+?[0-9]{3,20}$`)
)

// Validate checks the settings against each other; DecodeSettings calls it.
func (s *settings) Validate() error {
	if len(s.Ports) == 0 {
		return sdk.BadSetting("ports", `required: the modems' serial ports, such as ["/dev/ttyUSB0"] or ["/dev/serial/by-id/usb-*-if00"]`)
	}
	if len(s.Ports) > maxPorts {
		return sdk.BadSetting("ports", "%d ports; at most %d per provider", len(s.Ports), maxPorts)
	}
	if err := s.validateDefaults(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i, p := range s.Ports {
		field := fmt.Sprintf("ports[%d]", i)
		if err := p.validate(field); err != nil {
			return err
		}
		if seen[p.Path] {
			return sdk.BadSetting(field, "%q is listed twice", p.Path)
		}
		seen[p.Path] = true
	}
	if s.StateFile != "" && !filepath.IsAbs(s.StateFile) {
		return sdk.BadSetting("state_file", "%q is not an absolute path", s.StateFile)
	}
	for prefix, op := range s.OperatorPrefix {
		if !numberPattern.MatchString(prefix) || strings.TrimSpace(op) == "" {
			return sdk.BadSetting("operator_prefixes", "%q = %q: want a number prefix such as \"+4792\" and an operator name", prefix, op)
		}
	}
	return nil
}

func (s *settings) validateDefaults() error {
	checks := []error{
		checkBaud("baud", s.Baud),
		checkPIN("pin", s.PIN),
		checkNumber("smsc", s.SMSC),
		sdk.InRange("send_interval", s.SendInterval, 0, sdk.Duration(time.Hour)),
		sdk.InRange("max_per_day", s.MaxPerDay, 0, 1_000_000),
		sdk.InRange("health_interval", s.HealthInterval, sdk.Duration(100*time.Millisecond), sdk.Duration(time.Hour)),
		sdk.InRange("command_timeout", s.CommandTimeout, sdk.Duration(10*time.Millisecond), sdk.Duration(5*time.Minute)),
		sdk.InRange("send_timeout", s.SendTimeout, sdk.Duration(10*time.Millisecond), sdk.Duration(5*time.Minute)),
		sdk.InRange("reopen_backoff", s.ReopenBackoff, sdk.Duration(time.Millisecond), sdk.Duration(10*time.Minute)),
		sdk.InRange("reopen_backoff_max", s.ReopenMax, s.ReopenBackoff, sdk.Duration(time.Hour)),
		sdk.InRange("reassembly_timeout", s.Reassembly, sdk.Duration(10*time.Millisecond), sdk.Duration(24*time.Hour)),
		sdk.InRange("report_window", s.ReportWindow, sdk.Duration(time.Minute), sdk.Duration(30*24*time.Hour)),
		sdk.InRange("max_batch_size", s.MaxBatch, 1, maxBatchSize),
		sdk.InRange("duplicate_window", s.DuplicateWindow, sdk.Duration(time.Second), sdk.Duration(24*time.Hour)),
	}
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	return nil
}

func (p portSetting) validate(field string) error {
	if strings.TrimSpace(p.Path) == "" {
		return sdk.BadSetting(field, "a port needs a path, such as \"/dev/ttyUSB0\"")
	}
	if _, err := filepath.Match(p.Path, ""); err != nil {
		return sdk.BadSetting(field, "%q is not a valid path or glob: %v", p.Path, err)
	}
	if p.Baud != 0 {
		if err := checkBaud(field+".baud", p.Baud); err != nil {
			return err
		}
	}
	if err := checkPIN(field+".pin", p.PIN); err != nil {
		return err
	}
	if err := checkNumber(field+".smsc", p.SMSC); err != nil {
		return err
	}
	if err := checkNumber(field+".number", p.Number); err != nil {
		return err
	}
	if p.SendInterval != nil {
		if err := sdk.InRange(field+".send_interval", *p.SendInterval, 0, sdk.Duration(time.Hour)); err != nil {
			return err
		}
	}
	if p.MaxPerDay != nil {
		return sdk.InRange(field+".max_per_day", *p.MaxPerDay, 0, 1_000_000)
	}
	return nil
}

func checkBaud(field string, baud int) error {
	switch baud {
	case 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600:
		return nil
	}
	return sdk.BadSetting(field, "%d is not a serial speed such as 115200", baud)
}

func checkPIN(field string, pin sdk.Secret) error {
	if pin != "" && !pinPattern.MatchString(pin.Reveal()) {
		// Never quote the PIN: it is a secret even when malformed.
		return sdk.BadSetting(field, "a SIM PIN is 4 to 8 digits")
	}
	return nil
}

func checkNumber(field, n string) error {
	if n != "" && !numberPattern.MatchString(n) {
		return sdk.BadSetting(field, "%q is not a phone number such as \"+4790002100\"", n)
	}
	return nil
}

// portConfig is one port as it runs: its path and every setting resolved.
type portConfig struct {
	Path         string
	Baud         int
	PIN          sdk.Secret
	SMSC         string
	Number       string
	SendInterval time.Duration
	MaxPerDay    int
}

// resolvePorts expands globs and applies the defaults. A glob that matches
// nothing now is kept as a port of its own, reported unhealthy with the
// reason, so Configure never depends on the hardware being present.
func (s *settings) resolvePorts() []portConfig {
	var out []portConfig
	seen := map[string]bool{}
	for _, p := range s.Ports {
		paths := []string{p.Path}
		if strings.ContainsAny(p.Path, "*?[") {
			if m, _ := filepath.Glob(p.Path); len(m) > 0 {
				sort.Strings(m)
				paths = m
			}
		}
		for _, path := range paths {
			if seen[path] {
				continue
			}
			seen[path] = true
			out = append(out, s.resolve(p, path))
		}
	}
	return out
}

func (s *settings) resolve(p portSetting, path string) portConfig {
	pc := portConfig{Path: path, Baud: s.Baud, PIN: s.PIN, SMSC: s.SMSC, Number: p.Number,
		SendInterval: s.SendInterval.D(), MaxPerDay: s.MaxPerDay}
	if p.Baud != 0 {
		pc.Baud = p.Baud
	}
	if p.PIN != "" {
		pc.PIN = p.PIN
	}
	if p.SMSC != "" {
		pc.SMSC = p.SMSC
	}
	if p.SendInterval != nil {
		pc.SendInterval = p.SendInterval.D()
	}
	if p.MaxPerDay != nil {
		pc.MaxPerDay = *p.MaxPerDay
	}
	return pc
}

// wantedOperator is the operator whose SIM should send to number, by the
// longest matching operator_prefixes entry, or "".
func (s *settings) wantedOperator(number string) string {
	best, op := -1, ""
	for prefix, name := range s.OperatorPrefix {
		if strings.HasPrefix(number, prefix) && len(prefix) > best {
			best, op = len(prefix), name
		}
	}
	return op
}
