package smpp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/smsrouter/smsrouter/sdk"
)

// Settings limits. Values outside them are configuration mistakes.
const (
	maxBinds      = 32
	maxWindow     = 1000
	maxBatchLimit = 1000
)

// Bind modes.
const (
	bindTransceiver         = "transceiver"
	bindTransmitterReceiver = "transmitter_receiver"
)

// Long-message methods.
const (
	longUDH     = "udh"
	longSAR     = "sar"
	longPayload = "payload"
)

// Message id formats.
const (
	idString = "string"
	idHex    = "hex"
	idDec    = "dec"
)

// settings is the validated form of the provider block's config.
type settings struct {
	Host              string     `json:"host"`
	Port              int        `json:"port"`
	TLS               bool       `json:"tls"`
	TLSSkipVerify     bool       `json:"tls_skip_verify"`
	SystemID          string     `json:"system_id"`
	Password          sdk.Secret `json:"password"`
	SystemType        string     `json:"system_type"`
	BindMode          string     `json:"bind_mode"`
	Binds             int        `json:"binds"`
	Window            int        `json:"window"`
	TPS               int        `json:"tps"`
	EnquireLinkRaw    string     `json:"enquire_link"`
	ResponseTimeRaw   string     `json:"response_timeout"`
	ReconnectRaw      string     `json:"reconnect_backoff"`
	ReconnectMaxRaw   string     `json:"reconnect_backoff_max"`
	QueueTimeoutRaw   string     `json:"queue_timeout"`
	DefaultDataCoding string     `json:"default_data_coding"`
	LongMessage       string     `json:"long_message"`
	RegisteredDeliv   *int       `json:"registered_delivery"`
	RespIDFormat      string     `json:"resp_id_format"`
	ReceiptIDFormat   string     `json:"receipt_id_format"`
	DefaultSender     string     `json:"default_sender"`
	MaxBatchSize      int        `json:"max_batch_size"`
	ValidityPeriod    string     `json:"validity_period"`
	// Country is the ISO 3166-1 alpha-2 region numbers in national form
	// (TON 0 or 2) in deliver_sm belong to, such as "RU"; "" keeps them as
	// the SMSC wrote them unless they read as international.
	Country            string `json:"country"`
	DuplicateWindowRaw string `json:"duplicate_window"`

	duplicateWindow    time.Duration
	enquireLink        time.Duration
	responseTimeout    time.Duration
	reconnectBackoff   time.Duration
	reconnectMax       time.Duration
	queueTimeout       time.Duration
	registeredDelivery byte
}

func defaultSettings() settings {
	return settings{
		Port:              2775,
		BindMode:          bindTransceiver,
		Binds:             1,
		Window:            10,
		EnquireLinkRaw:    "30s",
		ResponseTimeRaw:   "10s",
		ReconnectRaw:      "1s",
		ReconnectMaxRaw:   "1m",
		QueueTimeoutRaw:   "30s",
		DefaultDataCoding: "gsm7",
		LongMessage:       longUDH,
		RespIDFormat:      idString,
		ReceiptIDFormat:   idString,
		MaxBatchSize:      100,
		ValidityPeriod:    validityRelative,
		// An SMSC delivers a deliver_sm again when its answer was lost:
		// on the next bind, within seconds or minutes.
		DuplicateWindowRaw: "10m",
	}
}

// addr is the SMSC's host:port.
func (s settings) addr() string {
	return fmt.Sprintf("%s:%d", s.Host, s.Port)
}

// parseSettings decodes and checks the settings document. Every error names
// the offending field, because an operator reads it at start-up.
func parseSettings(doc json.RawMessage) (settings, error) {
	s := defaultSettings()
	trimmed := bytes.TrimSpace(doc)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return s, errors.New("settings: host and system_id are required")
	}
	if err := sdk.DecodeSettings(trimmed, &s); err != nil {
		return s, err
	}
	check := func(ok bool, field, format string, args ...any) error {
		if ok {
			return nil
		}
		return fmt.Errorf("setting %s: %s", field, fmt.Sprintf(format, args...))
	}
	for _, err := range []error{
		check(strings.TrimSpace(s.Host) != "", "host", "is required (the SMSC's host name or IP address)"),
		check(s.Port > 0 && s.Port < 65536, "port", "%d is not a TCP port", s.Port),
		check(s.SystemID != "" && len(s.SystemID) <= 15, "system_id", "is required and at most 15 characters (SMPP 3.4 limit), got %d", len(s.SystemID)),
		check(len(s.Password) <= 8, "password", "is %d characters; SMPP 3.4 allows at most 8", len(s.Password)),
		check(len(s.SystemType) <= 12, "system_type", "is %d characters; SMPP 3.4 allows at most 12", len(s.SystemType)),
		check(s.BindMode == bindTransceiver || s.BindMode == bindTransmitterReceiver, "bind_mode", "%q is not %q or %q", s.BindMode, bindTransceiver, bindTransmitterReceiver),
		check(s.Binds >= 1 && s.Binds <= maxBinds, "binds", "%d is out of range 1..%d", s.Binds, maxBinds),
		check(s.Window >= 1 && s.Window <= maxWindow, "window", "%d is out of range 1..%d", s.Window, maxWindow),
		check(s.TPS >= 0, "tps", "%d is negative; 0 means no limit", s.TPS),
		check(s.DefaultDataCoding == "gsm7" || s.DefaultDataCoding == "latin1", "default_data_coding", "%q is not \"gsm7\" or \"latin1\"", s.DefaultDataCoding),
		check(s.LongMessage == longUDH || s.LongMessage == longSAR || s.LongMessage == longPayload, "long_message", "%q is not %q, %q or %q", s.LongMessage, longUDH, longSAR, longPayload),
		check(validIDFormat(s.RespIDFormat), "resp_id_format", "%q is not \"string\", \"hex\" or \"dec\"", s.RespIDFormat),
		check(validIDFormat(s.ReceiptIDFormat), "receipt_id_format", "%q is not \"string\", \"hex\" or \"dec\"", s.ReceiptIDFormat),
		check(s.MaxBatchSize >= 1 && s.MaxBatchSize <= maxBatchLimit, "max_batch_size", "%d is out of range 1..%d", s.MaxBatchSize, maxBatchLimit),
		check(s.ValidityPeriod == validityRelative || s.ValidityPeriod == validityAbsolute || s.ValidityPeriod == validityNone,
			"validity_period", "%q is not %q, %q or %q (for SMSCs that refuse one)", s.ValidityPeriod, validityRelative, validityAbsolute, validityNone),
		check(len(s.DefaultSender) <= 20, "default_sender", "is %d characters; SMPP allows at most 20", len(s.DefaultSender)),
		check(s.Country == "" || phonenumbers.GetCountryCodeForRegion(s.Country) != 0, "country",
			"%q is not an ISO 3166-1 alpha-2 region such as \"RU\"", s.Country),
	} {
		if err != nil {
			return s, err
		}
	}
	s.registeredDelivery = 1
	if s.RegisteredDeliv != nil {
		if *s.RegisteredDeliv < 0 || *s.RegisteredDeliv > 255 {
			return s, fmt.Errorf("setting registered_delivery: %d is not an octet (0..255)", *s.RegisteredDeliv)
		}
		s.registeredDelivery = byte(*s.RegisteredDeliv)
	}
	var err error
	for _, d := range []struct {
		name     string
		raw      string
		out      *time.Duration
		min, max time.Duration
	}{
		{"enquire_link", s.EnquireLinkRaw, &s.enquireLink, 100 * time.Millisecond, 10 * time.Minute},
		{"response_timeout", s.ResponseTimeRaw, &s.responseTimeout, 10 * time.Millisecond, 5 * time.Minute},
		{"reconnect_backoff", s.ReconnectRaw, &s.reconnectBackoff, time.Millisecond, 10 * time.Minute},
		{"reconnect_backoff_max", s.ReconnectMaxRaw, &s.reconnectMax, time.Millisecond, time.Hour},
		{"queue_timeout", s.QueueTimeoutRaw, &s.queueTimeout, 10 * time.Millisecond, time.Hour},
		{"duplicate_window", s.DuplicateWindowRaw, &s.duplicateWindow, time.Second, 24 * time.Hour},
	} {
		if *d.out, err = time.ParseDuration(d.raw); err != nil {
			return s, fmt.Errorf("setting %s: %q is not a duration such as \"30s\"", d.name, d.raw)
		}
		if *d.out < d.min || *d.out > d.max {
			return s, fmt.Errorf("setting %s: %s is out of range %s..%s", d.name, d.raw, d.min, d.max)
		}
	}
	if s.reconnectMax < s.reconnectBackoff {
		return s, fmt.Errorf("setting reconnect_backoff_max: %s is shorter than reconnect_backoff %s", s.reconnectMax, s.reconnectBackoff)
	}
	return s, nil
}

func validIDFormat(f string) bool { return f == idString || f == idHex || f == idDec }
