package egress

import (
	"net/netip"
	"strconv"
	"strings"
)

// ParseAddr reads host as an IP address the way resolvers do: IPv6 with or
// without brackets and zone, dotted IPv4, and the forms of inet_aton(3) —
// one to four parts, each decimal, octal (leading 0) or hex (0x), the last
// filling the bytes left, so that 2130706433, 0x7f000001, 0177.0.0.1 and
// 127.1 are all 127.0.0.1. A trailing dot is ignored. ok is false for a
// host name.
func ParseAddr(host string) (netip.Addr, bool) {
	h := strings.TrimSuffix(host, ".")
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	if a, err := netip.ParseAddr(h); err == nil {
		return a, true
	}
	return parseInetAton(h)
}

func parseInetAton(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var ip uint32
	for i, part := range parts {
		v, ok := parseAtonPart(part)
		if !ok {
			return netip.Addr{}, false
		}
		if i < len(parts)-1 {
			if v > 0xff {
				return netip.Addr{}, false
			}
			ip |= uint32(v) << (24 - 8*i)
			continue
		}
		// The last part fills the bytes the others left.
		if bits := 32 - 8*(len(parts)-1); bits < 32 && v >= 1<<bits {
			return netip.Addr{}, false
		}
		ip |= uint32(v)
	}
	return netip.AddrFrom4([4]byte{byte(ip >> 24), byte(ip >> 16), byte(ip >> 8), byte(ip)}), true
}

// parseAtonPart reads one part: decimal, octal with a leading 0, or hex
// with 0x, at most 32 bits.
func parseAtonPart(s string) (uint64, bool) {
	base := 10
	switch {
	case len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X"):
		base, s = 16, s[2:]
	case len(s) > 1 && s[0] == '0':
		base, s = 8, s[1:]
	}
	if s == "" || s[0] == '+' || s[0] == '-' {
		return 0, false
	}
	v, err := strconv.ParseUint(s, base, 32)
	return v, err == nil
}
