// Package inbound holds the messages handsets send to the accounts'
// numbers, as the host keeps them and the API lists them.
package inbound
