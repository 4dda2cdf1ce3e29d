// Package modem is the GSM modem provider plugin: one provider is a pool
// of serial modems (USB sticks, modem pools behind serial ports) spoken to
// with AT commands (3GPP 27.005 / 27.007) in PDU mode.
//
// It is built on github.com/warthog618/modem (the AT command engine, which
// routes unsolicited lines aside from command answers, and its gsm layer
// for +CMGS with the ">" prompt), github.com/warthog618/sms (SMS-SUBMIT
// encoding in GSM 03.38 or UCS-2, concatenation, status report and
// SMS-DELIVER decoding) and go.bug.st/serial for the port.
//
// Settings (the provider block's config; unknown keys are refused):
//
//	ports               required: device paths or globs ("/dev/ttyUSB0",
//	                    "/dev/serial/by-id/usb-*-if00"), each a string or an
//	                    object {path, baud, pin, smsc, number, send_interval,
//	                    max_per_day} overriding the defaults below for it.
//	                    Prefer /dev/serial/by-id names: ttyUSB numbers
//	                    change when a modem is re-plugged. A glob is
//	                    expanded once, at start.
//	baud                serial speed (default 115200; USB modems ignore it)
//	pin                 SIM PIN, 4-8 digits (default none); never logged,
//	                    and never tried twice: a SIM that refuses it stops
//	                    its port until the setting is fixed and the server
//	                    restarted, since three wrong PINs lock the SIM
//	smsc                service centre number written into each PDU
//	                    (default: the one on the SIM)
//	number              (per port) the SIM's own number, the "to" of inbound
//	                    messages and the sender reported for sent ones;
//	                    default: what the modem answers to +CNUM, if any
//	send_interval       per-port pacing: the least time between two
//	                    messages on a port (default "1s", 0s..1h)
//	max_per_day         per-port limit of messages a day (local time),
//	                    0 = none (default); a port at its limit is skipped
//	status_reports      request a status report for each part (default true)
//	health_interval     how often each port is asked signal (+CSQ),
//	                    registration (+CREG?, +CEREG?) and operator (+COPS?)
//	                    (default "30s"); two polls in a row without an
//	                    answer reopen the port
//	command_timeout     longest wait for a command's answer (default "10s")
//	send_timeout        longest wait for +CMGS's answer, the network round
//	                    trip (default "60s")
//	reopen_backoff,     first and longest wait before a port that failed is
//	reopen_backoff_max  opened again, doubling (defaults "1s", "1m")
//	reassembly_timeout  how long the parts of a long inbound message are
//	                    waited for before what arrived is delivered as it is
//	                    (default "5m")
//	report_window       how long a sent message waits for its status
//	                    reports (default "72h"); message references wrap
//	                    at 256 per port, so older ones are forgotten
//	state_file          absolute path of a journal of the messages waiting
//	                    for status reports, so reports that come after a
//	                    restart are matched (default none: they are not);
//	                    created at the first message sent
//	operator_prefixes   {"+4790" = "Telenor"}: the operator of numbers under a
//	                    prefix, for ported numbers and ranges libphonenumber
//	                    does not know (see Sending)
//	max_batch_size      messages per Send (default 32)
//	duplicate_window    how long an identical inbound message (same sender,
//	                    time stamp and text) is taken for a repeat (default "10m")
//
// Start-up, per port: ESC (closes a ">" prompt a crashed run left open;
// never Ctrl-Z, which would send it), ATZ, ATE0, +CMEE=1, +CMGF=0,
// +CPIN? (and +CPIN=<pin> once when the SIM asks), +CPMS="SM","SM","SM",
// +CNMI=2,1,0,1,0 (inbound stored and announced with +CMTI, status
// reports routed directly with +CDS), then +CGSN, +CIMI and +CNUM for the
// port's identity, a health poll, and +CMGL=4 to take in messages stored
// while no one listened. A command the modem refuses is reported with the
// port and the command ("port /dev/ttyUSB1: AT+CMGF=0: ERROR") and the
// port is tried again after the backoff; the other ports work meanwhile.
//
// Health: OK while at least one port is ready and registered (home or
// roaming). Its detail, shown by GET /api/v1/admin/providers as
// health_detail, has one entry per port: state, registration, operator,
// country (of the SIM's number, else of its IMSI's mobile country code),
// signal in dBm, number, IMEI, IMSI and the messages sent today. The same
// is reported per port as devices (sdk.DeviceReporter), the ports' numbers
// as the provider's numbers, and the operators and countries of registered
// ports as its networks, which routing sees as provider_operators and
// provider_countries.
//
// Sending: each message goes to the least busy ready, registered port
// under its daily limit, preferring a port whose network (+COPS) is the
// recipient's operator: the operator_prefixes entry for the number, else
// libphonenumber's carrier, the same operator routing rules see (so a
// route matching operator == "Telenor" to this provider sends on-net when
// a Telenor SIM is ready, and on any port when none is). A message whose
// metadata has
// modem_operator = "<name>" goes only to a port on that operator (or is
// answered Unavailable, code NO_PORT, so the route's next provider takes
// it). The carrier is looked up only when it can change the choice: not
// for one ready port, nor when no ready port's network is known or all
// are on one network.
//
// The text is encoded as the host counted it (GSM 03.38 or UCS-2) into
// SMS-SUBMIT parts with one concatenation reference per message, a
// relative validity period from the message's validity, and the status
// report bit; each part goes out with its own +CMGS and the reference the
// modem answers is recorded. +CMS ERROR codes decide the outcome, the code
// kept as "CMS <n>" and the reason naming the port and the part:
//
//	permanent (failed)    1, 28, 30 unknown number (INVALID_DESTINATION),
//	                      8, 10 barred (BLOCKED), 21 (REJECTED),
//	                      96, 304, 305 (INVALID_MESSAGE)
//	the port's fault      29, 50, 69, 300-303, 310-316 (but 314), 320,
//	(Unavailable)         330, 331: the message goes elsewhere at once
//	temporary             anything else (38, 41, 42, 47, 314, 332, 500…)
//
// A message whose port goes away or stops answering while it is on the
// line is answered Unavailable (code PORT_GONE or TIMEOUT) exactly once,
// so the host sends it on; earlier parts of a long message may have gone
// out, which the reason says. Messages still waiting for that port move
// to another.
//
// Status reports are matched by (port, message reference, recipient) and
// a message is reported once, when every part has a final report:
// delivered when all were, else the first other part's status (TP-Status
// 0x00-0x02 delivered, 0x46 expired, 0x42/0x45 rejected, other 0x40-0x6F
// undeliverable; 0x20-0x2F, the SMSC still trying, reports nothing).
// With state_file, each message waiting for reports is also a line of a
// journal (appended when sent and at each final report, rewritten from
// the live messages when it grew past twice them), read back at
// Configure, so reports after a restart are matched, and reported once;
// without it matching lives in memory and such messages end unknown.
//
// Inbound messages are read with +CMGR, stored by the host, and only then
// deleted from the SIM with +CMGD, so one the host did not store is read
// again at the next start (the duplicate window keeps it from being stored
// twice). The parts of a long message are reassembled by originator and
// reference.
package modem
