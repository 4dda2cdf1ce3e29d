package config_test

import (
	"reflect"
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
			otp:  config.OTP{Length: 8, TTL: 10 * time.Minute, Template: "{code} is your code"},
			api: config.API{SMSPerMinute: 500, OTPPerHour: 5, OTPVerifyAttempts: 4, DuplicateWindow: 0, MaxSegments: 4,
				SenderIDs: []string{"MyShop"}, AccountSenderIDs: map[string][]string{"acme": {"ACME", "+14155550100"}},
				Currency: "EUR", DefaultCredit: 12.5},
		},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			cfg, err := config.Load("testdata/good/"+tc.file, opts())
			if err != nil {
				t.Fatal(err)
			}
			if cfg.OTP != tc.otp {
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
