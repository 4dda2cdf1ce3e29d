// Package modem is the GSM modem provider plugin: one provider is a pool
// of serial modems spoken to with AT commands in PDU mode.
package modem
