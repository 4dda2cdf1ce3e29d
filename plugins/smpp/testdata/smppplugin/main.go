// Command smppplugin serves the smpp provider as a plugin binary, so its
// tests cross the same process boundary the host uses.
package main

import (
	"github.com/smsrouter/smsrouter/plugins/smpp"
	"github.com/smsrouter/smsrouter/sdk"
)

func main() {
	sdk.Serve(smpp.New())
}
