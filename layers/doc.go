// Package layers keeps the dependency rules of docs/architecture.md: its
// test fails when a package imports what its layer may not, so that
// dependencies keep pointing inward (server -> core -> routing, sdk).
package layers
