package smpp

import (
	"encoding/binary"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/linxGnu/gosmpp/pdu"

	"github.com/smsrouter/smsrouter/sdk"
)

// receipt is a delivery receipt read from a deliver_sm: the text body and the
// TLVs, the TLVs winning where both are present.
type receipt struct {
	id        string // as the SMSC wrote it, before normalisation
	stat      string // DELIVRD, UNDELIV, ...
	errorCode string
	done      time.Time
}

// receiptKeys are the keys of the receipt text, in the order they are tried
// at one position ("sub" before "submit date": the colon decides).
var receiptKeys = []string{"id", "sub", "dlvrd", "submit date", "done date", "stat", "err", "text"}

// keyLoc is one key found in a receipt text: the match starts at start (the
// whitespace before the key, or 0) and its value at value.
type keyLoc struct {
	key          string
	start, value int
}

// findReceiptKeys finds "key:" at the start of text or after whitespace.
// "submit date" and "done date" contain a space, so splitting on spaces
// would not do; keys are matched case-insensitively because vendors write
// "Text:" and "text:", and whitespace may stand before the colon. Scanning
// stops after "text:", whose value is the original message's octets. (A
// hand-written scanner: the equivalent regular expression was a fifth of
// the plugin's CPU at full speed.)
func findReceiptKeys(text string) []keyLoc {
	locs := make([]keyLoc, 0, 8)
	for p := 0; p < len(text); p++ {
		var at int
		switch {
		case p == 0 && !isSpace(text[0]):
			at = 0
		case isSpace(text[p]):
			at = p + 1
		default:
			continue
		}
		for _, k := range receiptKeys {
			if len(text)-at < len(k) || !strings.EqualFold(text[at:at+len(k)], k) {
				continue
			}
			e := at + len(k)
			for e < len(text) && isSpace(text[e]) {
				e++
			}
			if e < len(text) && text[e] == ':' {
				locs = append(locs, keyLoc{key: k, start: p, value: e + 1})
				if k == "text" {
					return locs
				}
				p = e // the loop's p++ resumes after the colon
				break
			}
		}
	}
	return locs
}

// isSpace is the whitespace receipts separate fields with.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
}

// messageStates maps the message_state TLV to the receipt text's stat words.
var messageStates = map[byte]string{
	0: "SCHEDULED", 1: "ENROUTE", 2: "DELIVRD", 3: "EXPIRED", 4: "DELETED",
	5: "UNDELIV", 6: "ACCEPTD", 7: "UNKNOWN", 8: "REJECTD", 9: "SKIPPED",
}

// statuses maps stat words to the normalised status.
var statuses = map[string]sdk.Status{
	"SCHEDULED": sdk.StatusQueued,
	"ENROUTE":   sdk.StatusSent,
	"DELIVRD":   sdk.StatusDelivered,
	"EXPIRED":   sdk.StatusExpired,
	"DELETED":   sdk.StatusFailed,
	"UNDELIV":   sdk.StatusUndeliverable,
	"ACCEPTD":   sdk.StatusSent,
	"UNKNOWN":   sdk.StatusUnknown,
	"REJECTD":   sdk.StatusRejected,
	"SKIPPED":   sdk.StatusFailed,
}

// statusOf normalises a stat word; words no SMSC should send are unknown.
func statusOf(stat string) sdk.Status {
	if s, ok := statuses[strings.ToUpper(stat)]; ok {
		return s
	}
	return sdk.StatusUnknown
}

// parseReceipt reads a receipt from its text and TLVs. It never fails: a
// field that is missing stays empty, and the caller decides whether the
// receipt is usable (it needs an id and a stat).
func parseReceipt(text string, tlvs map[pdu.Tag]pdu.Field) receipt {
	var r receipt
	text = strings.TrimRight(text, "\x00@")
	locs := findReceiptKeys(text)
	for i, loc := range locs {
		end := len(text)
		if i+1 < len(locs) {
			end = locs[i+1].start
		}
		val := strings.TrimSpace(text[loc.value:end])
		switch loc.key {
		case "id":
			r.id = val
		case "stat":
			r.stat = strings.ToUpper(val)
		case "err":
			r.errorCode = val
		case "done date":
			r.done = parseReceiptDate(val)
		}
	}
	if f, ok := tlvs[pdu.TagReceiptedMessageID]; ok {
		if id := strings.TrimRight(string(f.Data), "\x00"); id != "" {
			r.id = id
		}
	}
	if f, ok := tlvs[pdu.TagMessageStateOption]; ok && len(f.Data) == 1 {
		if name, ok := messageStates[f.Data[0]]; ok {
			r.stat = name
		}
	}
	if f, ok := tlvs[pdu.TagNetworkErrorCode]; ok && len(f.Data) == 3 {
		if code := binary.BigEndian.Uint16(f.Data[1:]); code != 0 {
			r.errorCode = fmt.Sprintf("%d:%d", f.Data[0], code)
		}
	}
	if r.errorCode != "" && strings.Trim(r.errorCode, "0") == "" {
		r.errorCode = ""
	}
	return r
}

// parseReceiptDate reads YYMMDDhhmm or YYMMDDhhmmss as UTC; SMSCs rarely
// say their zone.
func parseReceiptDate(s string) time.Time {
	for _, layout := range []string{"0601021504", "060102150405"} {
		if len(s) == len(layout) {
			if t, err := time.Parse(layout, s); err == nil {
				return t
			}
		}
	}
	return time.Time{}
}

// idNormaliser makes the id in a submit_sm_resp and the id in its receipt
// comparable, for SMSCs that write one in hex and the other in decimal (or
// pad and case them differently). The canonical form is the resp id's own
// base without leading zeros, lower case; that is the provider message id
// the host stores, so receipts and results meet on it.
type idNormaliser struct {
	resp, receipt string
}

func (n idNormaliser) fromResp(id string) string { return n.canonical(id, n.resp) }

func (n idNormaliser) fromReceipt(id string) string { return n.canonical(id, n.receipt) }

func (n idNormaliser) canonical(id, format string) string {
	id = strings.TrimSpace(id)
	from, to := idBase(format), idBase(n.resp)
	if from == 0 || to == 0 {
		return trimID(id)
	}
	// Most ids fit 64 bits; big.Int is the fallback for the rest (and for
	// signs, which it accepts and strconv does not).
	if u, err := strconv.ParseUint(id, from, 64); err == nil {
		return strconv.FormatUint(u, to)
	}
	v, ok := new(big.Int).SetString(id, from)
	if !ok {
		// Not what the setting promised; compare as text rather than lose it.
		return trimID(id)
	}
	return v.Text(to)
}

// idBase is the number base of an id format; 0 for opaque strings.
func idBase(format string) int {
	switch format {
	case idHex:
		return 16
	case idDec:
		return 10
	}
	return 0
}

// trimID lower-cases id and drops leading zeros, keeping one "0" for zero.
func trimID(id string) string {
	t := strings.TrimLeft(strings.ToLower(id), "0")
	if t == "" && id != "" {
		return "0"
	}
	return t
}
