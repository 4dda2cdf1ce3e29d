package modem

import (
	"fmt"
	"time"

	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/gsm7/charset"
	"github.com/warthog618/sms/encoding/tpdu"
	"github.com/warthog618/sms/encoding/ucs2"

	"github.com/smsrouter/smsrouter/sdk"
)

// maxValidity is the longest relative validity period an SMS-SUBMIT holds
// (TP-VP 255: 63 weeks).
const maxValidity = 63 * 7 * 24 * time.Hour

// The sms module builds its GSM 03.38 tables on first use without a lock,
// so two ports encoding (or decoding inbound messages) at once race;
// building them here, before any goroutine runs, leaves only reads.
func init() {
	charset.DefaultEncoder()
	charset.DefaultExtEncoder()
	charset.DefaultDecoder()
}

// encoder turns messages into SMS-SUBMIT TPDUs. Its counter gives every
// concatenated message a reference of its own, so a handset never mixes
// the parts of two messages.
type encoder struct {
	enc *sms.Encoder
}

func newEncoder() *encoder {
	return &encoder{enc: sms.NewEncoder(sms.AsSubmit)}
}

// option adapts a function to a tpdu.Option.
type option func(*tpdu.TPDU) error

func (o option) ApplyTPDUOption(t *tpdu.TPDU) error { return o(t) }

// encode returns the binary TPDUs of m, one per part: GSM 03.38 when the
// host counted it so and the text fits, else UCS-2; the status report
// requested when reports is set; the validity period from ValidUntil.
func (e *encoder) encode(m sdk.Message, reports bool, now time.Time) ([][]byte, error) {
	opts := []sms.EncoderOption{sms.To(m.To)}
	template := option(func(t *tpdu.TPDU) error {
		if reports {
			t.FirstOctet |= tpdu.FoSRR
		}
		if !m.ValidUntil.IsZero() {
			var vp tpdu.ValidityPeriod
			vp.SetRelative(min(m.ValidUntil.Sub(now), maxValidity))
			t.SetVP(vp)
		}
		return nil
	})
	opts = append(opts, sms.WithTemplateOption(template))
	text := []byte(m.Text)
	if m.Encoding == sdk.EncodingUCS2 {
		opts = append(opts, sms.AsUCS2)
		text = ucs2.Encode([]rune(m.Text))
	}
	pdus, err := e.enc.Encode(text, opts...)
	if err != nil {
		return nil, err
	}
	if len(pdus) == 0 {
		return nil, fmt.Errorf("the text is empty")
	}
	out := make([][]byte, len(pdus))
	for i := range pdus {
		b, err := pdus[i].MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("part %d: %w", i+1, err)
		}
		out[i] = b
	}
	return out, nil
}
