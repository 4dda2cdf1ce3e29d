package modemtest

import "github.com/warthog618/sms/encoding/gsm7/charset"

// The sms module builds its GSM 03.38 tables on first use without a lock,
// so two simulated modems decoding at once raced (a test's two modems, or
// one replugged while its old session ended); building them before any
// goroutine runs leaves only reads.
func init() {
	charset.DefaultDecoder()
	charset.DefaultEncoder()
	charset.DefaultExtEncoder()
}
