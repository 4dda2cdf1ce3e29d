package modemtest

import (
	"strconv"
	"strings"
)

// form is how a command was written (27.007 §4.1).
type form int

const (
	formExec form = iota // AT+CSQ
	formRead             // AT+CMGF?
	formTest             // AT+CMGF=?
	formSet              // AT+CMGF=0
)

// command is one command of a command line: "+CMGF=0" or "E0".
type command struct {
	raw  string
	name string // upper case: "+CMGF", "E", "&F"
	form form
	args []string // unquoted, for formSet; for basic commands the number
}

func (c command) arg(i int) string {
	if i < len(c.args) {
		return c.args[i]
	}
	return ""
}

func (c command) intArg(i int) (int, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(c.arg(i)))
	return n, err == nil
}

// parseLine splits what follows "AT" into commands: basic ones run
// together ("E0V1"), extended ones separated by ';'.
func parseLine(s string) []command {
	var out []command
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == ' ' || c == ';':
			i++
		case strings.IndexByte("+^$*%", c) >= 0:
			j := extendedEnd(s, i)
			out = append(out, parseExtended(s[i:j]))
			i = j
		default:
			j := basicEnd(s, i)
			out = append(out, parseBasic(s[i:j]))
			i = j
		}
	}
	return out
}

func extendedEnd(s string, i int) int {
	quoted := false
	j := i + 1
	for ; j < len(s); j++ {
		if s[j] == '"' {
			quoted = !quoted
		}
		if s[j] == ';' && !quoted {
			break
		}
	}
	return j
}

func basicEnd(s string, i int) int {
	j := i + 1
	if s[i] == '&' && j < len(s) {
		j++
	}
	sreg := s[i] == 'S' || s[i] == 's'
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	if sreg && j < len(s) && (s[j] == '=' || s[j] == '?') {
		j++
		for j < len(s) && isDigit(s[j]) {
			j++
		}
	}
	return j
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func parseBasic(raw string) command {
	c := command{raw: raw, form: formSet}
	i := 1
	if raw[0] == '&' && len(raw) > 1 {
		i = 2
	}
	c.name = strings.ToUpper(raw[:i])
	if c.name == "S" {
		c.name = strings.ToUpper(raw)
		return c
	}
	c.args = []string{raw[i:]}
	return c
}

func parseExtended(raw string) command {
	c := command{raw: raw}
	k := strings.IndexAny(raw, "=?")
	if k < 0 {
		c.name = strings.ToUpper(raw)
		c.form = formExec
		return c
	}
	c.name = strings.ToUpper(raw[:k])
	switch rest := raw[k:]; {
	case rest == "=?":
		c.form = formTest
	case rest == "?":
		c.form = formRead
	default:
		c.form = formSet
		c.args = splitArgs(rest[1:])
	}
	return c
}

// splitArgs splits on commas outside quotes and drops the quotes.
func splitArgs(s string) []string {
	var args []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b == '"':
			quoted = !quoted
		case b == ',' && !quoted:
			args = append(args, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(b)
		}
	}
	return append(args, strings.TrimSpace(cur.String()))
}
