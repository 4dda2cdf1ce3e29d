// Command modemplugin serves the modem provider as a plugin binary, so its
// tests cross the same process boundary the host uses.
package main

import (
	"github.com/smsrouter/smsrouter/plugins/modem"
	"github.com/smsrouter/smsrouter/sdk"
)

func main() {
	sdk.Serve(modem.New())
}
