// Package account holds what the host knows of the accounts that use it:
// accounts and their settings, API keys and what they may do, the credit
// ledger, the account's webhook, and the errors a caller branches on. The
// store maps its rows to these types; core and the API speak them.
package account
