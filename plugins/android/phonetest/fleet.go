package phonetest

import (
	"fmt"
	"testing"
)

// Fleet starts n phones against baseURL with the same options, each named
// "<prefix>-NN" with one SIM numbered from firstNumber upwards (e.g.
// "+15550000001"). Options.SIMs, when set, is used for every phone as is.
func Fleet(tb testing.TB, baseURL string, n int, prefix, firstNumber string, opts Options) []*Phone {
	tb.Helper()
	phones := make([]*Phone, n)
	for i := range phones {
		o := opts
		o.Name = fmt.Sprintf("%s-%02d", prefix, i+1)
		if len(opts.SIMs) == 0 && firstNumber != "" {
			o.SIMs = []SIM{{Number: numberPlus(firstNumber, i)}}
		}
		phones[i] = New(tb, baseURL, o)
	}
	return phones
}

// numberPlus adds i to the digits of an E.164 number.
func numberPlus(number string, i int) string {
	digits := []byte(number)
	for j := len(digits) - 1; j >= 0 && i > 0; j-- {
		if digits[j] < '0' || digits[j] > '9' {
			break
		}
		d := int(digits[j]-'0') + i%10
		i /= 10
		if d > 9 {
			d -= 10
			i++
		}
		digits[j] = byte('0' + d)
	}
	return string(digits)
}
