package android

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/smsrouter/smsrouter/sdk"
)

// Limits for settings: values outside them are configuration mistakes.
const (
	minPrivateToken = 16
	maxPhonesLimit  = 1000
	maxBatchLimit   = 500
)

// WhenOffline is what Send does with a message while no phone is online.
type WhenOffline string

const (
	// OfflineQueue (the default) waits up to the lease for a phone and then
	// answers the message unavailable, so the host keeps it pending with
	// the reason and sends it again.
	OfflineQueue WhenOffline = "queue"
	// OfflineRefuse answers at once "No gateway online", so a route fails
	// over without waiting.
	OfflineRefuse WhenOffline = "refuse"
)

var (
	e164Prefix = regexp.MustCompile(`^\+[0-9]{1,15}$`)
	e164Full   = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
)

// settings is the provider block's config. Field names are what operators
// write; the package doc lists them with their defaults.
type settings struct {
	PrivateToken       sdk.Secret   `json:"private_token"`
	StateFile          string       `json:"state_file"`
	AdminToken         sdk.Secret   `json:"admin_token"`
	WhenOffline        WhenOffline  `json:"when_offline"`
	Lease              sdk.Duration `json:"lease"`
	Keepalive          sdk.Duration `json:"keepalive"`
	PingInterval       sdk.Duration `json:"ping_interval"`
	RateLimit          int          `json:"rate_limit"`
	RatePeriod         sdk.Duration `json:"rate_period"`
	SIMRateLimit       int          `json:"sim_rate_limit"`
	DeliveryReports    bool         `json:"delivery_reports"`
	InboundDedupWindow sdk.Duration `json:"inbound_dedup_window"`
	MaxPhones          int          `json:"max_phones"`
	MaxBatchSize       int          `json:"max_batch_size"`
	Phones             []phoneConf  `json:"phones"`
}

// phoneConf is what the operator says about a phone the app cannot report
// itself: its SIMs' numbers and the destinations each serves, and a
// sending limit of its own.
type phoneConf struct {
	Name      string    `json:"name"`
	RateLimit int       `json:"rate_limit"`
	SIMs      []simConf `json:"sims"`
}

// simConf is one SIM of a configured phone.
type simConf struct {
	Slot     int      `json:"slot"`
	Number   string   `json:"number"`
	Operator string   `json:"operator"`
	Country  string   `json:"country"`
	Prefixes []string `json:"prefixes"`
}

func defaultSettings() settings {
	return settings{
		WhenOffline:        OfflineQueue,
		Lease:              sdk.Duration(30 * time.Second),
		Keepalive:          sdk.Duration(15 * time.Second),
		PingInterval:       sdk.Duration(time.Minute),
		RateLimit:          25,
		RatePeriod:         sdk.Duration(time.Minute),
		DeliveryReports:    true,
		InboundDedupWindow: sdk.Duration(10 * time.Minute),
		MaxPhones:          50,
		MaxBatchSize:       50,
	}
}

// Validate checks the settings after decoding.
func (s *settings) Validate() error {
	if len(strings.TrimSpace(string(s.PrivateToken))) < minPrivateToken {
		return sdk.BadSetting("private_token", "required, at least %d characters: the token phones register with (pass it with env(\"...\"), make one with `openssl rand -hex 24`)", minPrivateToken)
	}
	if s.AdminToken != "" && len(s.AdminToken) < minPrivateToken {
		return sdk.BadSetting("admin_token", "at least %d characters when set", minPrivateToken)
	}
	if s.AdminToken != "" && s.AdminToken == s.PrivateToken {
		return sdk.BadSetting("admin_token", "must differ from private_token: every phone knows private_token")
	}
	if s.StateFile != "" && !filepath.IsAbs(s.StateFile) {
		return sdk.BadSetting("state_file", "%q is not an absolute path", s.StateFile)
	}
	if s.WhenOffline != OfflineQueue && s.WhenOffline != OfflineRefuse {
		return sdk.BadSetting("when_offline", "%q is not one of \"queue\" and \"refuse\"", s.WhenOffline)
	}
	for _, check := range []error{
		sdk.InRange("lease", s.Lease, sdk.Duration(100*time.Millisecond), sdk.Duration(10*time.Minute)),
		sdk.InRange("keepalive", s.Keepalive, sdk.Duration(10*time.Millisecond), sdk.Duration(5*time.Minute)),
		sdk.InRange("ping_interval", s.PingInterval, sdk.Duration(time.Second), sdk.Duration(24*time.Hour)),
		sdk.InRange("rate_limit", s.RateLimit, 1, 100000),
		sdk.InRange("rate_period", s.RatePeriod, sdk.Duration(time.Second), sdk.Duration(24*time.Hour)),
		sdk.InRange("sim_rate_limit", s.SIMRateLimit, 0, 100000),
		sdk.InRange("inbound_dedup_window", s.InboundDedupWindow, sdk.Duration(time.Second), sdk.Duration(24*time.Hour)),
		sdk.InRange("max_phones", s.MaxPhones, 1, maxPhonesLimit),
		sdk.InRange("max_batch_size", s.MaxBatchSize, 1, maxBatchLimit),
	} {
		if check != nil {
			return check
		}
	}
	return s.validatePhones()
}

func (s *settings) validatePhones() error {
	names := map[string]bool{}
	for i, p := range s.Phones {
		field := func(f string) string { return "phones." + strconv.Itoa(i) + f }
		if strings.TrimSpace(p.Name) == "" {
			return sdk.BadSetting(field(".name"), "required: the device name the phone registers with (shown in the app)")
		}
		if names[p.Name] {
			return sdk.BadSetting(field(".name"), "%q is configured twice", p.Name)
		}
		names[p.Name] = true
		if err := sdk.InRange(field(".rate_limit"), p.RateLimit, 0, 100000); err != nil {
			return err
		}
		if err := validateSIMs(field(".sims"), p.SIMs); err != nil {
			return err
		}
	}
	return nil
}

func validateSIMs(field string, sims []simConf) error {
	slots := map[int]bool{}
	for j, sim := range sims {
		f := field + "." + strconv.Itoa(j)
		if err := sdk.InRange(f+".slot", sim.Slot, 1, 3); err != nil {
			return err
		}
		if slots[sim.Slot] {
			return sdk.BadSetting(f+".slot", "slot %d is configured twice", sim.Slot)
		}
		slots[sim.Slot] = true
		if sim.Number != "" && !e164Full.MatchString(sim.Number) {
			return sdk.BadSetting(f+".number", "%q is not an E.164 number such as +959791234567", sim.Number)
		}
		for k, pre := range sim.Prefixes {
			if !e164Prefix.MatchString(pre) {
				return sdk.BadSetting(f+".prefixes."+strconv.Itoa(k), "%q is not a number prefix such as \"+95\" or \"+95979\"", pre)
			}
		}
	}
	return nil
}

// phone returns the configured phone named name, if any.
func (s *settings) phone(name string) (phoneConf, bool) {
	for _, p := range s.Phones {
		if p.Name == name {
			return p, true
		}
	}
	return phoneConf{}, false
}

// parseSettings decodes and checks a provider block's config.
func parseSettings(raw []byte) (settings, error) {
	s := defaultSettings()
	if err := sdk.DecodeSettings(raw, &s); err != nil {
		return settings{}, err
	}
	return s, nil
}
