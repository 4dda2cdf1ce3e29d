// Package routing compiles the operator's route rules into a table and
// decides, for one message, which providers to try in which order and why.
package routing
