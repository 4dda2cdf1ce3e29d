package modem_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/smsrouter/smsrouter/plugins/modem"
	"github.com/smsrouter/smsrouter/sdk"
)

// An operator's config block, as the provider receives it, checked the way
// `smsrouter config validate` checks it: without opening a port.
func ExampleProvider_ValidateSettings() {
	settings := map[string]any{
		"ports": []any{
			"/dev/serial/by-id/usb-HUAWEI_Mobile-if00-port0",
			map[string]any{"path": "/dev/ttyUSB2", "pin": "12", "max_per_day": 500},
		},
		"send_interval": "3s",
	}
	raw, _ := json.Marshal(settings)
	err := modem.New().ValidateSettings(context.Background(), sdk.Config{Name: "modems", Settings: raw})
	fmt.Println(err)
	// Output: setting ports[1].pin: a SIM PIN is 4 to 8 digits
}
