package numbers

// Listed is a number a provider's plugin says it receives on (a phone's
// or modem's SIM), in the host's words.
type Listed struct {
	// Number is E.164, or a short code's digits with Country.
	Number  string
	Country string
	// CanSend: the provider can also send from it.
	CanSend bool
}

// Reconciled is what bringing a provider's plugin numbers into the
// inventory changed.
type Reconciled struct {
	// Added numbers were new; Restored ones had been retired because the
	// provider stopped listing them and are listed again.
	Added, Restored int
	// Retired numbers are no longer listed. Numbers held (assigned or in
	// quarantine) are left to their holder and retired once free.
	Retired int
}
