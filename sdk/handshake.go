package sdk

import "github.com/hashicorp/go-plugin"

// Handshake is what the host and a plugin binary must agree on before they
// talk. The cookie only stops a plugin binary from being run by hand by
// mistake; it is not a secret. ProtocolVersion changes only if the wire
// protocol breaks compatibility, which the additive design tries never to do.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "SMSROUTER_PLUGIN",
	MagicCookieValue: "ede64b5efd6e0409ed23b215429a80dfbe2943e7060ee78ddbe1e5e3699dbc94",
}

// pluginSetName is the one plugin a provider binary serves.
const pluginSetName = "provider"
