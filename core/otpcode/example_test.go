package otpcode_test

import (
	"fmt"
	"regexp"

	"github.com/smsrouter/smsrouter/core/otpcode"
)

func ExampleExtract() {
	for _, text := range []string{
		"G-482913 is your Google verification code.",
		"Your WhatsApp code: 381-204. Don't share this code with others.",
		"رمز التحقق الخاص بك هو ٤٨٢٠١٩",
		"Your order 482910 has shipped.",
	} {
		code, ok := otpcode.Extract(text)
		fmt.Printf("%q %v\n", code, ok)
	}
	// Output:
	// "482913" true
	// "381204" true
	// "482019" true
	// "" false
}

// An operator's pattern for a sender whose texts the built-in rules would
// misread: the bank's reference number is longer and comes first.
func ExampleNew() {
	e, err := otpcode.New(otpcode.Pattern{Sender: "AcmeBank", Regexp: regexp.MustCompile(`PIN ([0-9]{4})`)})
	if err != nil {
		panic(err)
	}
	fmt.Println(e.Extract("Ref 55820193 code for your PIN 4821", "AcmeBank"))
	// Output: 4821 true
}
