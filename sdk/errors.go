package sdk

import "errors"

// ErrUnavailable is wrapped by every error the host's view of a plugin
// returns because the plugin process could not be reached (it crashed, was
// killed, or the connection broke), as opposed to an error the provider itself
// reported. The dispatcher retries such a batch, possibly at another provider,
// instead of failing its messages.
var ErrUnavailable = errors.New("plugin unavailable")

// ErrOutcomeUnknown is wrapped, beside ErrUnavailable, by the error of a Send
// that reached the plugin process but got no answer (the process died or
// the connection broke during the call): the provider may have taken some
// of the messages. Sending them again may deliver them twice; a provider
// that implements SentQuerier can be asked first.
var ErrOutcomeUnknown = errors.New("outcome unknown")
