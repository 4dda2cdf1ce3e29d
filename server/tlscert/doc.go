// Package tlscert serves a TLS certificate read from files and re-read on
// demand, keeping the one in use when the new files are unusable.
package tlscert
