package smpp

import (
	"encoding/binary"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/warthog618/sms/encoding/gsm7"
	"github.com/warthog618/sms/encoding/ucs2"
)

// data_coding values this plugin sends and understands.
const (
	codingGSM7   byte = 0x00 // SMSC default alphabet, sent unpacked
	codingASCII  byte = 0x01
	codingLatin1 byte = 0x03
	codingUCS2   byte = 0x08
)

// Part sizes. They match the host's segment count (a 6-octet concatenation
// header with an 8-bit reference), so a message costs what the host charged.
const (
	gsm7Single   = 160
	gsm7Part     = 153
	ucs2Single   = 70
	ucs2Part     = 67
	latin1Single = 140
	latin1Part   = 134
)

// gsm7Cost holds the septets each GSM 03.38 character takes: 1 for the basic
// table, 2 for the extension table (ESC + code). ESC itself is left out: a raw
// escape in application text would swallow the next character.
var gsm7Cost = func() map[rune]int {
	const basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	const extension = "\f^{}\\[~]|€"
	m := make(map[rune]int, len(basic)+len(extension))
	for _, r := range basic {
		m[r] = 1
	}
	for _, r := range extension {
		m[r] = 2
	}
	return m
}()

// encodedText is a message body ready for submit_sm: its data_coding and
// the user data of each part, without any concatenation header.
type encodedText struct {
	coding byte
	parts  [][]byte
}

// encodeText picks the encoding and splits text into parts of at most the
// single-message size, or of the concatenated-part size when it does not
// fit in one. whole asks for a single unsplit part (message_payload).
func encodeText(text string, latin1 bool, whole bool) (encodedText, error) {
	if costs, ok := gsm7Costs(text); ok {
		parts, err := splitEncode(text, costs, gsm7Single, gsm7Part, whole, func(s string) ([]byte, error) {
			return gsm7Encoder.Encode([]byte(s))
		})
		return encodedText{coding: codingGSM7, parts: parts}, err
	}
	if latin1 && isLatin1(text) {
		costs := make([]int, 0, len(text))
		for range text {
			costs = append(costs, 1)
		}
		parts, err := splitEncode(text, costs, latin1Single, latin1Part, whole, func(s string) ([]byte, error) {
			b := make([]byte, 0, len(s))
			for _, r := range s {
				b = append(b, byte(r))
			}
			return b, nil
		})
		return encodedText{coding: codingLatin1, parts: parts}, err
	}
	costs := make([]int, 0, len(text))
	for _, r := range text {
		costs = append(costs, utf16.RuneLen(r))
	}
	parts, err := splitEncode(text, costs, ucs2Single, ucs2Part, whole, func(s string) ([]byte, error) {
		return ucs2.Encode([]rune(s)), nil
	})
	return encodedText{coding: codingUCS2, parts: parts}, err
}

// gsm7Costs returns each rune's septet count, or false when a rune is not in
// GSM 03.38.
func gsm7Costs(text string) ([]int, bool) {
	costs := make([]int, 0, len(text))
	for _, r := range text {
		c := gsm7Cost[r]
		if c == 0 {
			return nil, false
		}
		costs = append(costs, c)
	}
	return costs, true
}

func isLatin1(text string) bool {
	for _, r := range text {
		if r > 0xFF {
			return false
		}
	}
	return true
}

// splitEncode fills parts greedily with whole runes, so neither a GSM7
// escape pair nor a UTF-16 surrogate pair is ever split, then encodes each.
func splitEncode(text string, costs []int, single, part int, whole bool, enc func(string) ([]byte, error)) ([][]byte, error) {
	total := 0
	for _, c := range costs {
		total += c
	}
	if whole || total <= single {
		b, err := enc(text)
		if err != nil {
			return nil, fmt.Errorf("encode text: %w", err)
		}
		return [][]byte{b}, nil
	}
	var parts [][]byte
	start, used, i := 0, 0, 0
	for pos, r := range text {
		c := costs[i]
		i++
		if used+c > part {
			b, err := enc(text[start:pos])
			if err != nil {
				return nil, fmt.Errorf("encode text: %w", err)
			}
			parts = append(parts, b)
			start, used = pos, 0
		}
		used += c
		_ = r
	}
	b, err := enc(text[start:])
	if err != nil {
		return nil, fmt.Errorf("encode text: %w", err)
	}
	return append(parts, b), nil
}

// decodeText turns short_message octets of the given data_coding into UTF-8.
// Octets that are not valid in their coding are replaced, never dropped
// silently into an error: an inbound message is kept even when garbled.
func decodeText(coding byte, b []byte) string {
	switch {
	case coding == codingUCS2:
		if len(b)%2 == 1 {
			b = b[:len(b)-1]
		}
		runes, err := ucs2.Decode(b)
		if err != nil {
			u := make([]uint16, len(b)/2)
			for i := range u {
				u[i] = binary.BigEndian.Uint16(b[2*i:])
			}
			return string(utf16.Decode(u))
		}
		return string(runes)
	case coding == codingLatin1:
		r := make([]rune, len(b))
		for i, c := range b {
			r[i] = rune(c)
		}
		return string(r)
	case coding == codingASCII:
		if utf8.Valid(b) {
			return string(b)
		}
		return string([]rune(string(b)))
	case coding == codingGSM7 || coding&0xF4 == 0xF0:
		s, err := gsm7Decoder.Decode(b)
		if err != nil {
			return string(b)
		}
		return string(s)
	}
	return string(b)
}

// gsm7Encoder and gsm7Decoder are made once, before any goroutine uses
// them: the library builds its default tables lazily without a lock, so two
// inbound messages decoded at once raced on them.
var (
	gsm7Encoder = gsm7.NewEncoder()
	gsm7Decoder = gsm7.NewDecoder()
)
