// Package egress decides which network addresses the server may connect to
// on an application's behalf, such as the webhook URLs applications choose,
// and dials only those: public unicast addresses unless the operator allows
// more, so that a tenant cannot reach the server's own loopback services,
// the private network behind it or the cloud metadata service.
package egress
