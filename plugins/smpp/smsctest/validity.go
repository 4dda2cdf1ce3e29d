package smsctest

import "time"

// ValidTime reports whether v is an SMPP 3.4 time (§7.1.1) as
// schedule_delivery_time and validity_period carry it: "YYMMDDhhmmsstnnp"
// with p "+" or "-" for an absolute time (t tenths of a second, nn the
// offset from UTC in quarter hours, at most 48) or "R" for a relative one
// (tnn "000").
func ValidTime(v string) bool {
	if len(v) != 16 {
		return false
	}
	for _, c := range v[:15] {
		if c < '0' || c > '9' {
			return false
		}
	}
	switch v[15] {
	case 'R':
		return v[12:15] == "000"
	case '+', '-':
		if (v[13]-'0')*10+(v[14]-'0') > 48 {
			return false
		}
		_, err := time.Parse("060102150405", v[:12])
		return err == nil
	}
	return false
}
