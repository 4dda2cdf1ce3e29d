// Package builtin lists the provider plugin kinds shipped inside the
// smsrouter binary, so the command that serves them and the tests that
// validate shipped configs read one list.
package builtin
