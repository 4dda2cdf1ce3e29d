// Package connlimit caps how many connections one client address holds
// open on a listener at once.
package connlimit
