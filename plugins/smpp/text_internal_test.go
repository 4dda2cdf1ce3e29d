package smpp

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/linxGnu/gosmpp/pdu"

	"github.com/smsrouter/smsrouter/core/segment"
	"github.com/smsrouter/smsrouter/sdk"
)

var segmentTexts = []string{
	"",
	"hello",
	strings.Repeat("a", 160),
	strings.Repeat("a", 161),
	strings.Repeat("a", 306),
	strings.Repeat("a", 307),
	strings.Repeat("€", 80),
	strings.Repeat("€", 81),
	strings.Repeat("x", 152) + "{",
	strings.Repeat("ç", 70),
	strings.Repeat("ç", 71),
	strings.Repeat("😀", 35),
	strings.Repeat("😀", 36),
	strings.Repeat("Привет ", 30),
	"Ça coûte 5€ — d'accord?",
}

// TestSegmentsAgreeWithCore: the plugin splits into exactly as many parts
// as the host charged for.
func TestSegmentsAgreeWithCore(t *testing.T) {
	for _, text := range segmentTexts {
		enc, err := encodeText(text, false, false)
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		wantEnc, wantN := segment.Count(text)
		gotEnc := map[byte]string{codingGSM7: segment.GSM7, codingUCS2: segment.UCS2}[enc.coding]
		if gotEnc != wantEnc || len(enc.parts) != wantN {
			t.Errorf("%.20q…: plugin %s × %d, core %s × %d", text, gotEnc, len(enc.parts), wantEnc, wantN)
		}
		var back strings.Builder
		for _, p := range enc.parts {
			back.WriteString(decodeText(enc.coding, p))
		}
		if back.String() != text {
			t.Errorf("%.20q… does not survive encode/decode: %.20q…", text, back.String())
		}
	}
}

func TestParseReceipt(t *testing.T) {
	tlv := func(tag pdu.Tag, b ...byte) pdu.Field { return pdu.Field{Tag: tag, Data: b} }
	cases := []struct {
		name  string
		text  string
		tlvs  []pdu.Field
		id    string
		stat  string
		err   string
		done  time.Time
		state sdk.Status
	}{
		{name: "spec text", text: "id:1A2B3C00 sub:001 dlvrd:001 submit date:2401021504 done date:2401021505 stat:DELIVRD err:000 text:hello",
			id: "1A2B3C00", stat: "DELIVRD", done: time.Date(2024, 1, 2, 15, 5, 0, 0, time.UTC), state: sdk.StatusDelivered},
		{name: "upper-case keys, seconds, trailing NUL", text: "id:77 Sub:001 Dlvrd:000 Submit date:240102150405 Done date:240102150406 Stat:UNDELIV Err:012 Text:x\x00",
			id: "77", stat: "UNDELIV", err: "012", done: time.Date(2024, 1, 2, 15, 4, 6, 0, time.UTC), state: sdk.StatusUndeliverable},
		{name: "missing fields", text: "id:5 stat:EXPIRED", id: "5", stat: "EXPIRED", state: sdk.StatusExpired},
		{name: "TLVs beat text", text: "id:1 stat:ENROUTE err:000",
			tlvs: []pdu.Field{tlv(pdu.TagReceiptedMessageID, '0', '0', 'a', 'b', 0), tlv(pdu.TagMessageStateOption, 8), tlv(pdu.TagNetworkErrorCode, 3, 0, 11)},
			id:   "00ab", stat: "REJECTD", err: "3:11", state: sdk.StatusRejected},
		{name: "TLVs only", tlvs: []pdu.Field{tlv(pdu.TagReceiptedMessageID, '9', 0), tlv(pdu.TagMessageStateOption, 6)}, id: "9", stat: "ACCEPTD", state: sdk.StatusSent},
		{name: "text field is not parsed", text: "id:3 stat:DELIVRD err:000 text:stat:UNDELIV id:4", id: "3", stat: "DELIVRD", state: sdk.StatusDelivered},
		{name: "deleted", text: "id:3 stat:DELETED", id: "3", stat: "DELETED", state: sdk.StatusFailed},
		{name: "unknown word", text: "id:3 stat:WHATEVER", id: "3", stat: "WHATEVER", state: sdk.StatusUnknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := map[pdu.Tag]pdu.Field{}
			for _, f := range tc.tlvs {
				m[f.Tag] = f
			}
			r := parseReceipt(tc.text, m)
			if r.id != tc.id || r.stat != tc.stat || r.errorCode != tc.err || !r.done.Equal(tc.done) || statusOf(r.stat) != tc.state {
				t.Errorf("got %+v (%s), want id %q stat %q err %q done %v (%s)", r, statusOf(r.stat), tc.id, tc.stat, tc.err, tc.done, tc.state)
			}
		})
	}
}

func TestIDNormaliser(t *testing.T) {
	cases := []struct {
		resp, receipt  string
		respID, rcptID string
		want           string
	}{
		{idHex, idDec, "1A2B3C00", "439041024", "1a2b3c00"},
		{idDec, idHex, "439041024", "1a2b3c00", "439041024"},
		{idHex, idHex, "0001A2B3C00", "1a2b3c00", "1a2b3c00"},
		{idString, idString, "00AbC", "abc", "abc"},
		{idHex, idDec, strings.Repeat("F", 64), "115792089237316195423570985008687907853269984665640564039457584007913129639935", strings.Repeat("f", 64)},
		{idHex, idDec, "zz", "zz", "zz"},
	}
	for _, tc := range cases {
		n := idNormaliser{resp: tc.resp, receipt: tc.receipt}
		if a, b := n.fromResp(tc.respID), n.fromReceipt(tc.rcptID); a != tc.want || b != tc.want {
			t.Errorf("%s/%s: resp %q → %q, receipt %q → %q, want %q", tc.resp, tc.receipt, tc.respID, a, tc.rcptID, b, tc.want)
		}
	}
}

func TestSourceAddress(t *testing.T) {
	cases := []struct {
		from     string
		ton, npi byte
		addr     string
	}{
		{"MyBrand", 5, 0, "MyBrand"},
		{"+14155550100", 1, 1, "14155550100"},
		{"4915112345678", 1, 1, "4915112345678"},
		{"7522", 3, 0, "7522"},
		{"", 0, 0, ""},
	}
	for _, tc := range cases {
		ton, npi, addr := sourceAddress(tc.from)
		if ton != tc.ton || npi != tc.npi || addr != tc.addr {
			t.Errorf("%q: %d/%d %q, want %d/%d %q", tc.from, ton, npi, addr, tc.ton, tc.npi, tc.addr)
		}
	}
}

// TestFindReceiptKeys holds the hand-written key scanner to the regular
// expression it replaced, on the shapes SMSCs write.
func TestFindReceiptKeys(t *testing.T) {
	expr := regexp.MustCompile(`(?i)(?:^|\s)(id|sub|dlvrd|submit date|done date|stat|err|text)\s*:`)
	texts := []string{
		"id:1A2B3C00 sub:001 dlvrd:001 submit date:2401021504 done date:2401021505 stat:DELIVRD err:000 text:hello",
		"id:77 Sub:001 Dlvrd:000 Submit date:240102150405 Done date:240102150406 Stat:UNDELIV Err:012 Text:x",
		" id : 5  stat\t:EXPIRED",
		"ID:5 STAT:EXPIRED ERR:0 TEXT:id:6 stat:DELIVRD",
		"xid:5 substat:1 stat:DELIVRD",
		"id:5 submit:1 submit date:2401021504 stat:",
		"id::5 stat:stat:DELIVRD",
		"id:",
		"",
		"stat",
		"\nid:9\r\nstat:ACCEPTD\fdone date :2401021504",
	}
	for _, text := range texts {
		var want []keyLoc
		for _, m := range expr.FindAllStringSubmatchIndex(text, -1) {
			want = append(want, keyLoc{key: strings.ToLower(text[m[2]:m[3]]), start: m[0], value: m[1]})
			if want[len(want)-1].key == "text" {
				break
			}
		}
		got := findReceiptKeys(text)
		if len(got) != len(want) {
			t.Errorf("%q: got %+v, want %+v", text, got, want)
			continue
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%q: got %+v, want %+v", text, got, want)
				break
			}
		}
	}
}
