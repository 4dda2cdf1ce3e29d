package flawed

// Flaw is one mistake a provider author makes.
type Flaw string

// The flaws. None is a correct provider.
const (
	None                   Flaw = ""
	DropsResult            Flaw = "drops-result"             // returns a result too few
	WrongMessageID         Flaw = "wrong-message-id"         // results name the wrong message
	NoProviderID           Flaw = "no-provider-id"           // Accepted without a ProviderMessageID
	LeaksGoroutine         Flaw = "leaks-goroutine"          // Close leaves a goroutine running
	BalanceWithoutCurrency Flaw = "balance-without-currency" // Balance has no currency
	ThrottleAsPermanent    Flaw = "throttle-as-permanent"    // HTTP 429 becomes Permanent
	IgnoresRetryAfter      Flaw = "ignores-retry-after"      // Retry-After is not passed on
	UnsignedHooks          Flaw = "unsigned-hooks"           // callbacks are not verified
	EmitsLate              Flaw = "emits-late"               // hook events emitted after the response started
	PanicsInHook           Flaw = "panics-in-hook"           // HandleHook panics on a request without a signature
	IgnoresContext         Flaw = "ignores-context"          // upstream requests ignore Send's ctx
	SendsUnconfigured      Flaw = "sends-unconfigured"       // Send before Configure does not fail
	AcceptsBadSettings     Flaw = "accepts-bad-settings"     // Configure takes anything
	AcceptsAfterCancel     Flaw = "accepts-after-cancel"     // Send with a cancelled ctx accepts
	DropsRefusedEvents     Flaw = "drops-refused-events"     // an event the host failed to store is never emitted again
	ZeroBalanceOnFailure   Flaw = "zero-balance-on-failure"  // a failing upstream's balance is 0, not an error
	AccountAsPermanent     Flaw = "account-as-permanent"     // refused credentials fail the message
)

// HTTPFlaws are the flaws of the HTTP provider (NewHTTP).
func HTTPFlaws() []Flaw {
	return []Flaw{DropsResult, WrongMessageID, NoProviderID, LeaksGoroutine, BalanceWithoutCurrency,
		ThrottleAsPermanent, IgnoresRetryAfter, UnsignedHooks, EmitsLate, PanicsInHook, IgnoresContext,
		SendsUnconfigured, AcceptsBadSettings, AcceptsAfterCancel, ZeroBalanceOnFailure, AccountAsPermanent}
}

// QueueFlaws are the flaws of the event-source provider (NewQueue).
func QueueFlaws() []Flaw {
	return []Flaw{DropsResult, NoProviderID, LeaksGoroutine, SendsUnconfigured, AcceptsBadSettings,
		AcceptsAfterCancel, DropsRefusedEvents}
}
