// Package providerstats keeps each provider's recent success rate and submit
// latency, over a sliding window of attempts, for routing rules and operators.
package providerstats
