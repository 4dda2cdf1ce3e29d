package segment

import "unicode/utf8"

// Encoding names returned by Count. They match sdk.EncodingGSM7 and
// sdk.EncodingUCS2 so callers can convert with sdk.Encoding(enc).
const (
	GSM7 = "gsm7"
	UCS2 = "ucs2"
)

// Part sizes from GSM 03.40 with a 6-octet concatenation header (8-bit
// reference), which is what every plugin sends by default.
const (
	gsm7Single = 160
	gsm7Part   = 153
	ucs2Single = 70
	ucs2Part   = 67
)

// ascii holds the GSM7 cost of each ASCII rune: 0 when it is not in GSM 03.38,
// 1 for the basic table, 2 for the extension table (ESC + code).
var ascii [utf8.RuneSelf]uint8

// nonASCII is the rest of the basic table plus the euro sign from the extension
// table. It is small, so a switch would also do; a map keeps the table
// readable next to the standard.
var nonASCII = map[rune]uint8{}

func init() {
	// The basic table minus ESC (0x1B): a raw escape in application text would
	// swallow the character after it, so such text goes as UCS-2 instead.
	const basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	const extension = "\f^{}\\[~]|€"
	for _, r := range basic {
		set(r, 1)
	}
	for _, r := range extension {
		set(r, 2)
	}
}

func set(r rune, cost uint8) {
	if r < utf8.RuneSelf {
		ascii[r] = cost
		return
	}
	nonASCII[r] = cost
}

// septets reports how many septets r takes in GSM7, or 0 when r cannot be
// sent in GSM7 at all.
func septets(r rune) int {
	if r < utf8.RuneSelf {
		return int(ascii[r])
	}
	return int(nonASCII[r])
}

// Count reports the encoding text must be sent in ("gsm7" or "ucs2") and how
// many SMS parts it takes.
//
// GSM7 is chosen when every character is in the GSM 03.38 basic or extension
// table; extension characters cost two septets and an ESC pair is never split
// across parts. Otherwise the whole text is UCS-2, counted in UTF-16 code
// units, and a surrogate pair is never split. Empty text is one GSM7 segment,
// because an empty SMS still costs one.
func Count(text string) (enc string, segments int) {
	if n, ok := countGSM7(text); ok {
		return GSM7, n
	}
	return UCS2, countUCS2(text)
}

func countGSM7(text string) (int, bool) {
	total := 0
	for _, r := range text {
		c := septets(r)
		if c == 0 {
			return 0, false
		}
		total += c
	}
	if total <= gsm7Single {
		return 1, true
	}
	// Greedy fill, because an ESC pair that would straddle a boundary moves
	// whole into the next part and leaves a septet unused.
	parts, used := 1, 0
	for _, r := range text {
		c := septets(r)
		if used+c > gsm7Part {
			parts++
			used = 0
		}
		used += c
	}
	return parts, true
}

func countUCS2(text string) int {
	total := 0
	for _, r := range text {
		total += utf16Units(r)
	}
	if total <= ucs2Single {
		return 1
	}
	parts, used := 1, 0
	for _, r := range text {
		c := utf16Units(r)
		if used+c > ucs2Part {
			parts++
			used = 0
		}
		used += c
	}
	return parts
}

func utf16Units(r rune) int {
	if r >= 0x10000 {
		return 2
	}
	return 1
}

// NonGSM lists the characters of text that GSM 03.38 cannot carry, each
// once, in the order they first appear, at most max of them: what an
// application can replace to send the text as GSM-7 (more characters per
// segment).
func NonGSM(text string, max int) []string {
	var out []string
	seen := map[rune]bool{}
	for _, r := range text {
		if septets(r) != 0 || seen[r] {
			continue
		}
		seen[r] = true
		out = append(out, string(r))
		if len(out) == max {
			break
		}
	}
	return out
}
