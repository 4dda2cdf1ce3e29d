package config_test

import (
	"fmt"
	"testing"
)

func TestConsoleSecureCookies(t *testing.T) {
	const base = `
server {
  %s
}
provider "sandbox" {
  plugin = "sandbox"
}
route "default" {
  default    = true
  candidates = ["sandbox"]
}
`
	tests := []struct {
		name, server string
		want         bool
		wantErr      string
	}{
		{"plain http: not secure", `listen = "127.0.0.1:3005"`, false, ""},
		{"https public_url behind a proxy: secure", `public_url = "https://sms.example.com"`, true, ""},
		{"said outright", "console {\n secure_cookies = true\n}", true, ""},
		{"said off beats https public_url", "public_url = \"https://sms.example.com\"\nconsole {\n secure_cookies = false\n}", false, ""},
		{"not a bool", "console {\n secure_cookies = \"yes please\"\n}", false, "test.hcl:4:19: Incorrect value type"},
		{"unknown setting", "console {\n cookies = true\n}", false, `test.hcl:4:2: Unsupported argument: An argument named "cookies"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := parseCase(t, fmt.Sprintf(base, tt.server), tt.wantErr)
			if cfg == nil {
				return
			}
			if got := cfg.Server.Console.SecureCookies; got != tt.want {
				t.Errorf("secure cookies %v, want %v", got, tt.want)
			}
		})
	}
}
