// Package core is smsrouter's domain: it accepts messages from the API
// (normalising numbers, counting segments, asking routing for a plan and
// storing the message with its dispatch work), answers status queries, and
// takes provider hooks, storing their events before the provider gets its
// answer. Its subpackages own the store, the plugin host and the dispatcher.
package core
