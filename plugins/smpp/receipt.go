package smpp

import (
	"encoding/binary"
	"fmt"
	"math/big"
	"regexp"
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

// receiptKey finds the keys of the receipt text. "submit date" and "done
// date" contain a space, so splitting on spaces would not do; keys are
// matched case-insensitively because vendors write "Text:" and "text:".
var receiptKey = regexp.MustCompile(`(?i)(?:^|\s)(id|sub|dlvrd|submit date|done date|stat|err|text)\s*:`)

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
	locs := receiptKey.FindAllStringSubmatchIndex(text, -1)
	for i, loc := range locs {
		key := strings.ToLower(text[loc[2]:loc[3]])
		end := len(text)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		val := strings.TrimSpace(text[loc[1]:end])
		switch key {
		case "id":
			r.id = val
		case "stat":
			r.stat = strings.ToUpper(val)
		case "err":
			r.errorCode = val
		case "done date":
			r.done = parseReceiptDate(val)
		case "text":
			// Raw octets of the original message; never parsed.
		}
		if key == "text" {
			break
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
	base := map[string]int{idHex: 16, idDec: 10}
	from, to := base[format], base[n.resp]
	if from == 0 || to == 0 {
		return trimID(id)
	}
	v, ok := new(big.Int).SetString(id, from)
	if !ok {
		// Not what the setting promised; compare as text rather than lose it.
		return trimID(id)
	}
	return v.Text(to)
}

// trimID lower-cases id and drops leading zeros, keeping one "0" for zero.
func trimID(id string) string {
	t := strings.TrimLeft(strings.ToLower(id), "0")
	if t == "" && id != "" {
		return "0"
	}
	return t
}
