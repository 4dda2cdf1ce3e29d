package seal_test

import (
	"errors"
	"fmt"

	"github.com/smsrouter/smsrouter/core/seal"
)

// Rotating keys: the new key goes first and seals; the old one stays in the
// ring, after it, until nothing sealed with it is left.
func ExampleRing() {
	oldKey, _ := seal.ParseKey("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
	newKey, _ := seal.ParseKey("HxwdHhscGRoXFBUWExAREg8MDQ4LCAkKBwQFBgMAAQI=")

	before, _ := seal.NewRing(oldKey)
	stored := before.Seal("Your verification code is 089431", "messages.text:msg_1")

	after, _ := seal.NewRing(newKey, oldKey)
	text, _ := after.Open(stored, "messages.text:msg_1")
	fmt.Println(text)

	withoutOld, _ := seal.NewRing(newKey)
	_, err := withoutOld.Open(stored, "messages.text:msg_1")
	var unknown *seal.UnknownKeyError
	fmt.Println(errors.As(err, &unknown), unknown.KeyID == oldKey.ID())
	// Output:
	// Your verification code is 089431
	// true true
}
