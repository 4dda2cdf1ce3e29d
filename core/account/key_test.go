package account_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/core/account"
)

func TestHas(t *testing.T) {
	tests := []struct {
		perms string
		ask   string
		want  bool
	}{
		{"send_sms", account.PermSendSMS, true},
		{"send_sms", account.PermSendOTP, false},
		{"send_sms,verify_otp", account.PermVerifyOTP, true},
		{"system_admin", account.PermSendSMS, true},
		{"system_admin", account.PermAccountAdmin, true},
		{"system_admin", account.PermSystemAdmin, true},
		{"account_admin", account.PermReceiveSMS, true},
		{"account_admin", account.PermAccountAdmin, true},
		{"account_admin", account.PermSystemAdmin, false},
		// Written by a node of an earlier version after this one migrated:
		// the lesser power.
		{"admin", account.PermAccountAdmin, true},
		{"admin", account.PermSystemAdmin, false},
		{"send_sms,send_otp,receive_sms,verify_otp", account.PermAccountAdmin, false},
		{"", account.PermSendSMS, false},
		{"send_sms", "", false},
	}
	for _, tt := range tests {
		if got := (account.APIKey{Permissions: tt.perms}).Has(tt.ask); got != tt.want {
			t.Errorf("key with %q: Has(%q) = %v, want %v", tt.perms, tt.ask, got, tt.want)
		}
	}
}

func TestParsePermissions(t *testing.T) {
	got, err := account.ParsePermissions("send_sms, verify_otp,,send_sms")
	if err != nil || strings.Join(got, ",") != "send_sms,verify_otp" {
		t.Errorf("ParsePermissions = %v, %v", got, err)
	}
	if _, err := account.ParsePermissions("send_sms,root"); err == nil || !strings.Contains(err.Error(), `"root"`) {
		t.Errorf("ParsePermissions(root) err = %v, want one naming root", err)
	}
}

func TestManagesAndMayGrant(t *testing.T) {
	sys := account.APIKey{AccountID: "acc_ops", Permissions: account.PermSystemAdmin}
	acct := account.APIKey{AccountID: "acc_shop", Permissions: account.PermAccountAdmin}
	send := account.APIKey{AccountID: "acc_shop", Permissions: account.PermSendSMS}
	tests := []struct {
		name    string
		key     account.APIKey
		account string
		perms   []string
		wantErr string
	}{
		{"system admin, other account", sys, "acc_shop", []string{account.PermSystemAdmin}, ""},
		{"account admin, own account", acct, "acc_shop", []string{account.PermAccountAdmin, account.PermSendSMS}, ""},
		{"account admin, other account", acct, "acc_ops", []string{account.PermSendSMS}, "its own account (acc_shop) only"},
		{"account admin grants system", acct, "acc_shop", []string{account.PermSystemAdmin}, "only a system_admin key"},
		{"no admin at all", send, "acc_shop", []string{account.PermSendSMS}, "its own account"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.key.MayGrant(tt.account, tt.perms)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("MayGrant = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, account.ErrForbidden) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("MayGrant = %v, want ErrForbidden saying %q", err, tt.wantErr)
			}
		})
	}
}
