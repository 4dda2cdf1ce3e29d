package config_test

import (
	"reflect"
	"regexp"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/config"
)

func TestAPIAndOTPBlocks(t *testing.T) {
	tests := []struct {
		file string
		otp  config.OTP
		api  config.API
	}{
		{file: "minimal.hcl", otp: config.DefaultOTP(), api: config.DefaultAPI()},
		{
			file: "api.hcl",
			otp: config.OTP{Length: 8, TTL: 10 * time.Minute, Template: "{code} is your code", Extract: []config.OTPPattern{
				{Sender: "AcmeBank", Pattern: regexp.MustCompile(`PIN ([0-9]{4})`)},
				{Pattern: regexp.MustCompile(`passphrase [a-z]+-[a-z]+`)},
			}},
			api: config.API{SMSPerMinute: 500, OTPPerHour: 5, OTPVerifyAttempts: 4, DuplicateWindow: 0, MaxSegments: 4,
				SenderIDs: []string{"MyShop"}, AccountSenderIDs: map[string][]string{"acme": {"ACME", "+14155550100"}},
				Currency: "EUR", DefaultCredit: 12.5, CreditLimit: amountPtr(0), LowBalance: amountPtr(2.5), DefaultValidity: time.Hour, MaxValidity: 48 * time.Hour, MaxScheduleAhead: 7 * 24 * time.Hour},
		},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			cfg, err := config.Load("testdata/good/"+tc.file, opts())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cfg.OTP, tc.otp) {
				t.Errorf("OTP = %+v, want %+v", cfg.OTP, tc.otp)
			}
			if !reflect.DeepEqual(cfg.API, tc.api) {
				t.Errorf("API = %+v, want %+v", cfg.API, tc.api)
			}
		})
	}
	if d := config.DefaultOTP(); d.Length != 6 || d.TTL != 300*time.Second || d.Template != "Your verification code is {code}" {
		t.Errorf("DefaultOTP() = %+v, want the guide's 6 digits, 300 s and template", d)
	}
}

// Left out, default_validity follows a max_validity lowered below it;
// written out, it must fit under it.
func TestValidityDefaultsFollowMaximum(t *testing.T) {
	base := `provider "sandbox" {
  plugin = "sandbox"
}
route "default" {
  default    = true
  candidates = ["sandbox"]
}
`
	cfg, err := config.Parse([]byte(base+"api {\n  max_validity = \"2h\"\n}\n"), "validity.hcl", opts())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.API.DefaultValidity != 2*time.Hour || cfg.API.MaxValidity != 2*time.Hour || cfg.API.MaxScheduleAhead != 30*24*time.Hour {
		t.Errorf("validity %v max %v ahead %v, want 2h, 2h and the default 720h", cfg.API.DefaultValidity, cfg.API.MaxValidity, cfg.API.MaxScheduleAhead)
	}
	_, err = config.Parse([]byte(base+"api {\n  default_validity = \"3h\"\n  max_validity     = \"2h\"\n}\n"), "validity.hcl", opts())
	want := `validity.hcl:9:22: Invalid validity: default_validity (3h0m0s) is longer than max_validity (2h0m0s); raise max_validity or shorten default_validity`
	if err == nil || err.Error() != want {
		t.Errorf("error\n%v\nwant\n%s", err, want)
	}
}

func amountPtr(f float64) *float64 { return &f }
