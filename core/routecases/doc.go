// Package routecases reads an operator's routing cases (messages, the time
// and the providers' state, each with the route and plan it must get) and
// checks a compiled routing table against them.
package routecases
