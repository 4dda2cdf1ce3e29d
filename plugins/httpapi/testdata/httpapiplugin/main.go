// Command httpapiplugin serves the httpapi provider as a plugin binary, so
// its tests cross the same process boundary the host uses.
package main

import (
	"github.com/smsrouter/smsrouter/plugins/httpapi"
	"github.com/smsrouter/smsrouter/sdk"
)

func main() {
	sdk.Serve(httpapi.New())
}
