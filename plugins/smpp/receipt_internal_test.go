package smpp

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"
)

// A redelivered receipt whose SMSC encoded it anew, with its TLVs in
// another order, is the same receipt: gosmpp itself writes TLVs in map
// order, which made the conformance kit's refused receipt come back under
// another event id about one run in eight.
func TestReceiptHashIgnoresTLVOrder(t *testing.T) {
	base := pdu.NewDeliverSM().(*pdu.DeliverSM)
	base.SourceAddr = pdu.NewAddressWithTonNpi(1, 1)
	_ = base.SourceAddr.SetAddress("4915123000001")
	base.DestAddr = pdu.NewAddressWithTonNpi(0, 1)
	_ = base.DestAddr.SetAddress("12345")
	base.EsmClass = 0x04
	_ = base.Message.SetMessageDataWithEncoding([]byte("id:1a2b stat:DELIVRD err:000"), data.GSM7BIT)
	buf := pdu.NewBuffer(nil)
	base.Marshal(buf)
	raw := buf.Bytes()

	tlv := func(tag uint16, v []byte) []byte {
		b := binary.BigEndian.AppendUint16(nil, tag)
		b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
		return append(b, v...)
	}
	id := tlv(uint16(pdu.TagReceiptedMessageID), []byte("1a2b\x00"))
	state := tlv(uint16(pdu.TagMessageStateOption), []byte{2})
	parse := func(tlvs ...[]byte) *pdu.DeliverSM {
		t.Helper()
		frame := append([]byte(nil), raw...)
		for _, x := range tlvs {
			frame = append(frame, x...)
		}
		binary.BigEndian.PutUint32(frame, uint32(len(frame)))
		p, err := pdu.Parse(bytes.NewReader(frame))
		if err != nil {
			t.Fatal(err)
		}
		return p.(*pdu.DeliverSM)
	}
	a, b := parse(id, state), parse(state, id)
	if receiptHash(a) != receiptHash(b) {
		t.Errorf("one receipt with its TLVs in two orders got two ids: %s and %s", receiptHash(a), receiptHash(b))
	}
	other := parse(id, tlv(uint16(pdu.TagMessageStateOption), []byte{5}))
	if receiptHash(a) == receiptHash(other) {
		t.Error("receipts with different states got one id")
	}
}
