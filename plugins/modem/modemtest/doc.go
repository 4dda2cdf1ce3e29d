// Package modemtest is a GSM modem simulator that speaks AT commands
// (3GPP 27.007 / 27.005, PDU and text mode) on a pseudo-terminal, for the
// modem plugin's tests, benchmarks and demos: a client opens the path it
// gives exactly like a serial port.
//
// What it simulates: identification (+CGMI, +CGMM, +CGMR, +CGSN, +CIMI,
// ATI, +GCAP), echo (ATE0/ATE1) and ATZ/AT&F resets, extended errors
// (+CMEE=0/1/2), the SIM PIN (+CPIN, a wrong PIN costs one of three tries,
// then the SIM wants its PUK), registration and signal (+CREG, +CEREG,
// +CGREG, +COPS, +CSQ), message format and character set (+CMGF, +CSCS),
// indications (+CNMI), storage (+CPMS, +CMGR, +CMGL, +CMGD), the service
// centre (+CSCA), sending with the "> " prompt and Ctrl-Z (+CMGS in both
// modes; ESC cancels), status reports (+CDS or +CDSI, depending on +CNMI's
// ds) after a delay, inbound messages (+CMT or +CMTI, depending on +CNMI's
// mt, concatenated when long), unplugging (the pty closes and the stable
// path disappears) and replugging (a new pty behind the same path, as a
// power-cycled modem), slow answers, injected errors and unsolicited or
// garbage lines interleaved with answers.
//
// Dialect details that real clients rely on, learnt from running them
// against it (gammu and github.com/warthog618/modem):
//
//   - A command ends at CR; LF after it is ignored (warthog618/modem sends
//     CR LF). With echo on, the command line is echoed with its CR before
//     the answer, and every answer line is framed as CR LF line CR LF.
//   - The +CMGS prompt is CR LF "> " with no line end after it; the PDU
//     follows, ended by Ctrl-Z, and is echoed too when echo is on.
//   - ESC clears a half-typed command and cancels an open prompt; clients
//     send it first to recover from a crashed run.
//   - In PDU mode <length> counts TPDU octets without the SMSC part; a
//     mismatch answers +CMS ERROR: 304, as real modems do.
//   - Errors are plain ERROR until +CMEE=1 (numeric) or 2 (verbose).
//   - The message reference in +CMGS is the modem's own counter (0-255,
//     wrapping), not the TP-MR in the submitted PDU.
//   - Status reports and inbound messages that arrive while no client is
//     connected (unplugged), or with +CNMI asking for storage, are stored
//     on the "SIM" and listed by +CMGL.
//   - gammu starts with ESC CR, then AT, ATE1 (it wants echo on and strips
//     it), AT+CMEE=1, and probes vendor commands (AT+CPROT=?,
//     AT+SYNCML=?, AT$TSSPCSW=?, AT+MODE=2, AT+CHUP=?): plain ERROR to
//     those is what it expects from a modem without them.
//   - gammu sends in PDU mode with its own SMSC address in the PDU (first
//     octet 0x11, 0x31 with -report) and sets no +CNMI, so status reports
//     it asked for stay stored and show up in `gammu getallsms`.
//   - The SMSC address in a PDU the modem gives out must have the
//     extension bit set in its type (0x91, not 0x11): gammu refuses the
//     message ("Numbering plan not supported") otherwise.
//   - `gammu getallsms` asks +CPMS=? and reads every storage offered with
//     +CMGL=4; offering only "SM" keeps it from listing messages twice.
package modemtest
