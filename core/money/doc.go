// Package money holds amounts of account credit exactly, as whole
// micro-units of the currency (1 USD = 1,000,000), so that charges, refunds
// and balances add up to the last digit on every database driver; floats
// never hold money here.
package money
