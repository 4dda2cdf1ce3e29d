package builtin

import (
	"sort"

	"github.com/smsrouter/smsrouter/plugins/android"
	"github.com/smsrouter/smsrouter/plugins/httpapi"
	"github.com/smsrouter/smsrouter/plugins/modem"
	"github.com/smsrouter/smsrouter/plugins/sandbox"
	"github.com/smsrouter/smsrouter/plugins/smpp"
	"github.com/smsrouter/smsrouter/plugins/twilio"
	"github.com/smsrouter/smsrouter/sdk"
)

// providers are the built-in kinds and how to make each.
var providers = map[string]func() sdk.Provider{
	"sandbox": func() sdk.Provider { return sandbox.New() },
	"android": func() sdk.Provider { return android.New() },
	"smpp":    func() sdk.Provider { return smpp.New() },
	"httpapi": func() sdk.Provider { return httpapi.New() },
	"twilio":  func() sdk.Provider { return twilio.New() },
	"modem":   func() sdk.Provider { return modem.New() },
}

// Kinds returns the built-in plugin kinds, sorted.
func Kinds() []string {
	kinds := make([]string, 0, len(providers))
	for k := range providers {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	return kinds
}

// New returns an unconfigured provider of a built-in kind; ok is false for
// a kind this binary does not ship.
func New(kind string) (p sdk.Provider, ok bool) {
	newProvider, ok := providers[kind]
	if !ok {
		return nil, false
	}
	return newProvider(), true
}
