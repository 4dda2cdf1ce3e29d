package message

// Count is how many messages are in one status at one provider.
type Count struct {
	Status Status
	// Provider is the provider that last took the messages; empty while
	// none has.
	Provider string
	N        int64
}
