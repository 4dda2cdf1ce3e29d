// Package server is smsrouter's HTTP API (Gin): it authenticates API keys,
// decodes and checks requests, calls core, and writes the JSON answers and
// errors of the integration guide's contract; it also forwards provider hooks.
package server
