package message

// Refusal says why a provider refused a message for good, in words shared
// by every provider. A message's plan stores the refusals that send it on
// to the next candidate (failover_on) and the one each candidate gave, so
// the strings are stored: changing one is a data migration. They are the
// plugin protocol's words (sdk.Refusal), translated in core/pluginhost.
type Refusal string

// The refusals, as a provider's plugin may give them.
const (
	// RefusalRejected: any refusal without a more specific class.
	RefusalRejected Refusal = "REJECTED"
	// RefusalInvalidSender: the sender is not registered or not allowed
	// at this provider.
	RefusalInvalidSender Refusal = "INVALID_SENDER"
	// RefusalInvalidDestination: the provider refuses the recipient's number.
	RefusalInvalidDestination Refusal = "INVALID_DESTINATION"
	// RefusalInvalidMessage: the text, encoding or length cannot be sent
	// through this provider.
	RefusalInvalidMessage Refusal = "INVALID_MESSAGE"
	// RefusalBlocked: the recipient opted out or is barred, or the content
	// was filtered.
	RefusalBlocked Refusal = "BLOCKED"
	// RefusalUnauthorized: the provider refused the host's credentials.
	RefusalUnauthorized Refusal = "UNAUTHORIZED"
	// RefusalDuplicate: the provider has or may have the message already;
	// never failed over, as another provider would send it twice.
	RefusalDuplicate Refusal = "DUPLICATE"
)

// Refusals lists every refusal.
func Refusals() []Refusal {
	return []Refusal{RefusalRejected, RefusalInvalidSender, RefusalInvalidDestination, RefusalInvalidMessage,
		RefusalBlocked, RefusalUnauthorized, RefusalDuplicate}
}
