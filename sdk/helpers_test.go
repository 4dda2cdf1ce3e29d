package sdk_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsrouter/smsrouter/sdk"
)

type testSettings struct {
	URL     string       `json:"url"`
	Timeout sdk.Duration `json:"timeout"`
	Batch   int          `json:"batch"`
	Key     sdk.Secret   `json:"key"`
	Retry   struct {
		Max sdk.Duration `json:"max"`
	} `json:"retry"`
	Routes []struct {
		Prefix string `json:"prefix"`
	} `json:"routes"`
	region // its settings are top-level ones, as encoding/json promotes them
}

type region struct {
	Region string `json:"region"`
}

func (s *testSettings) Validate() error {
	if s.URL == "" {
		return sdk.BadSetting("url", "required")
	}
	return sdk.InRange("timeout", s.Timeout, sdk.Duration(time.Second), sdk.Duration(time.Minute))
}

func TestDecodeSettings(t *testing.T) {
	tests := []struct {
		name, in  string
		wantField string // "" with wantErr: the settings as a whole
		wantErr   string // "" = no error
	}{
		{"all given", `{"url":"https://x","timeout":"15s","batch":3,"key":"k","retry":{"max":"1m"}}`, "", ""},
		{"defaults kept", `{"url":"https://x"}`, "", ""},
		{"misspelt name", `{"url":"https://x","timout":"15s"}`, "timout", "the top-level settings are url, timeout, batch, key, retry"},
		{"misspelt nested name", `{"url":"https://x","retry":{"mx":"1m"}}`, "retry.mx", "unknown setting (the settings in retry are max)"},
		{"misspelt name in a list", `{"url":"https://x","routes":[{"prefix":"+1"},{"prefx":"+44"}]}`, "routes.1.prefx", "the settings in routes.1 are prefix"},
		{"embedded settings are top-level", `{"url":"https://x","region":"eu","regon":"eu"}`, "regon", "the top-level settings are url, timeout, batch, key, retry, routes, region"},
		{"duration as number", `{"url":"https://x","timeout":15}`, "timeout", `15 is not a duration such as "15s"`},
		{"bad duration", `{"url":"https://x","timeout":"15 s"}`, "timeout", `"15 s" is not a duration`},
		{"nested bad duration", `{"url":"https://x","retry":{"max":"soon"}}`, "retry.max", `"soon" is not a duration`},
		{"wrong type", `{"url":"https://x","batch":"3"}`, "batch", "want a whole number, got string"},
		{"secret not a string", `{"url":"https://x","key":12345}`, "key", "want a string, got number"},
		{"Validate runs", `{}`, "url", "required"},
		{"null is empty", `null`, "url", "required"},
		{"Validate range", `{"url":"https://x","timeout":"2m"}`, "timeout", "2m0s is out of range, want 1s to 1m0s"},
		{"trailing data", `{"url":"https://x"} {}`, "", "unexpected data after the settings object"},
		{"not JSON", `{"url":`, "", "unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testSettings{Timeout: sdk.Duration(10 * time.Second)}
			err := sdk.DecodeSettings(json.RawMessage(tt.in), &s)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("DecodeSettings: %v", err)
				}
				return
			}
			var se *sdk.SettingsError
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T), want a *sdk.SettingsError", err, err)
			}
			if se.Field != tt.wantField || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q on field %q, want %q on field %q", err, se.Field, tt.wantErr, tt.wantField)
			}
		})
	}
}

func TestSecretNeverPrints(t *testing.T) {
	const key = "sk_live_abcdef"
	s := struct {
		Key sdk.Secret `json:"key"`
	}{sdk.Secret(key)}
	js, _ := json.Marshal(s)
	var log strings.Builder
	slog.New(slog.NewTextHandler(&log, nil)).Info("settings", "key", s.Key)
	for _, jsonFormat := range []bool{false, true} {
		hclog.New(&hclog.LoggerOptions{Output: &log, JSONFormat: jsonFormat}).Info("settings", "key", s.Key, "all", s)
	}
	for _, out := range []string{
		fmt.Sprint(s.Key), fmt.Sprintf("%v %+v %#v %s %q %x %X %10s", s, s, s, s.Key, s.Key, s.Key, s.Key, s.Key),
		s.Key.String(), s.Key.GoString(), string(js), log.String(),
	} {
		if strings.Contains(out, key) || strings.Contains(out, hex.EncodeToString([]byte(key))) {
			t.Errorf("secret printed: %s", out)
		}
	}
	if n := strings.Count(log.String(), "[redacted]"); n < 5 {
		t.Errorf("the logs show [redacted] %d times, want at least 5:\n%s", n, log.String())
	}
	if s.Key.Reveal() != key {
		t.Errorf("Reveal = %q", s.Key.Reveal())
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		header string
		want   time.Duration
		ok     bool
	}{
		{"120", 2 * time.Minute, true},
		{" 0 ", 0, true},
		{"Mon, 07 Dec 2026 10:00:30 GMT", 30 * time.Second, true},
		{"Monday, 07-Dec-26 10:01:00 GMT", time.Minute, true}, // RFC 850, still allowed
		{"Mon, 07 Dec 2026 09:00:00 GMT", 0, true},            // in the past
		{"", 0, false},
		{"-5", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"99999999999", 0, false}, // overflows: not a believable wait
	}
	for _, tt := range tests {
		got, ok := sdk.ParseRetryAfter(tt.header, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseRetryAfter(%q) = %s, %t; want %s, %t", tt.header, got, ok, tt.want, tt.ok)
		}
	}
}

func TestVerifyHMAC(t *testing.T) {
	key, msg := []byte("whsec_test"), []byte(`1700000000.{"id":"m1"}`)
	mac := hmac.New(sha256.New, key)
	mac.Write(msg)
	sum := mac.Sum(nil)
	sha1mac := hmac.New(sha1.New, key)
	sha1mac.Write(msg)
	tests := []struct {
		name string
		key  []byte
		sig  string
		want bool
	}{
		{"hex", key, hex.EncodeToString(sum), true},
		{"upper hex", key, strings.ToUpper(hex.EncodeToString(sum)), true},
		{"base64", key, base64.StdEncoding.EncodeToString(sum), true},
		{"raw url base64", key, base64.RawURLEncoding.EncodeToString(sum), true},
		{"surrounding space", key, " " + hex.EncodeToString(sum) + "\n", true},
		{"wrong key", []byte("other"), hex.EncodeToString(sum), false},
		{"other hash", key, hex.EncodeToString(sha1mac.Sum(nil)), false},
		{"truncated", key, hex.EncodeToString(sum)[:40], false},
		{"empty", key, "", false},
		{"no key", nil, hex.EncodeToString(hmac.New(sha256.New, nil).Sum(nil)), false},
	}
	for _, tt := range tests {
		if got := sdk.VerifyHMAC(sha256.New, tt.key, msg, tt.sig); got != tt.want {
			t.Errorf("%s: VerifyHMAC = %t, want %t", tt.name, got, tt.want)
		}
	}
}

func TestCheckTimestamp(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	tests := []struct {
		ts    string
		stale bool
		bad   bool
	}{
		{"1700000000", false, false},
		{"1699999700", false, false}, // 5 minutes old: the edge
		{"1699999699", true, false},
		{"1700000301", true, false}, // from the future
		{"2023-11-14T22:13:20Z", false, false},
		{"yesterday", false, true},
		{"1700000000000", false, true}, // milliseconds: refused as unreadable, not as years away
	}
	for _, tt := range tests {
		err := sdk.CheckTimestamp(tt.ts, now, 5*time.Minute)
		switch {
		case tt.bad && (err == nil || errors.Is(err, sdk.ErrStaleTimestamp)):
			t.Errorf("CheckTimestamp(%q) = %v, want an unreadable timestamp", tt.ts, err)
		case tt.stale && !errors.Is(err, sdk.ErrStaleTimestamp):
			t.Errorf("CheckTimestamp(%q) = %v, want ErrStaleTimestamp", tt.ts, err)
		case !tt.bad && !tt.stale && err != nil:
			t.Errorf("CheckTimestamp(%q) = %v, want nil", tt.ts, err)
		}
	}
}

func TestConfigLogNeverNil(t *testing.T) {
	sdk.Config{}.Log().Info("goes nowhere") // must not panic
}
