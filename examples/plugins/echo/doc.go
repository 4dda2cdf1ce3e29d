// Command echo is a minimal smsrouter provider plugin, built only against
// the sdk package: it accepts every message and reports it delivered after a
// configurable delay. Copy it to start a real plugin.
package main
