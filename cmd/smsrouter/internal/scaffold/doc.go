// Package scaffold writes the module `smsrouter plugin new` starts a
// provider plugin with: go.mod, main.go, a conformance test and a README,
// rendered from templates so that what is generated builds and passes the
// kit as written.
package scaffold
