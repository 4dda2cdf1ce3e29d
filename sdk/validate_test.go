package sdk_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/sdk"
)

// TestValidateSettingsOverTheWire checks that every problem a plugin finds
// reaches the host with the setting it names, and a broken document is a
// problem of the settings as a whole.
func TestValidateSettingsOverTheWire(t *testing.T) {
	ctx := testCtx(t)
	v := launch(t, sdk.LaunchOptions{}).Provider().(sdk.SettingsValidator)
	for _, tc := range []struct {
		name     string
		settings string
		want     []sdk.SettingsError
	}{
		{"valid", `{}`, nil},
		{"two settings", `{"problems":[{"setting":"hots","message":"unknown setting; did you mean \"host\"?"},{"setting":"auth.token","message":"required"}]}`,
			[]sdk.SettingsError{{Field: "hots", Err: errors.New(`unknown setting; did you mean "host"?`)}, {Field: "auth.token", Err: errors.New("required")}}},
		{"not an object", `[1]`, []sdk.SettingsError{{Err: errors.New("cannot unmarshal array")}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := v.ValidateSettings(ctx, sdk.Config{Name: "x", Settings: json.RawMessage(tc.settings)})
			got := settingErrors(err)
			if len(got) != len(tc.want) {
				t.Fatalf("ValidateSettings = %v, want %d problems", err, len(tc.want))
			}
			for i, w := range tc.want {
				if got[i].Field != w.Field || !strings.Contains(got[i].Err.Error(), w.Err.Error()) {
					t.Errorf("problem %d = %q: %q, want %q: …%q…", i, got[i].Field, got[i].Err, w.Field, w.Err)
				}
			}
		})
	}
}

func settingErrors(err error) []*sdk.SettingsError {
	var out []*sdk.SettingsError
	if err == nil {
		return nil
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		joined = joinedOf{err}
	}
	for _, e := range joined.Unwrap() {
		var se *sdk.SettingsError
		if errors.As(e, &se) {
			out = append(out, se)
		}
	}
	return out
}

type joinedOf []error

func (j joinedOf) Unwrap() []error { return j }
