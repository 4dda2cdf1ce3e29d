package sdk

import "errors"

// ErrUnavailable is wrapped by every error the host's view of a plugin
// returns because the plugin process could not be reached (it crashed, was
// killed, or the connection broke), as opposed to an error the provider itself
// reported. The dispatcher retries such a batch, possibly at another provider,
// instead of failing its messages.
var ErrUnavailable = errors.New("plugin unavailable")
