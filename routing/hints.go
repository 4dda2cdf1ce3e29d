package routing

import (
	"regexp"
	"strings"
)

// signatures are the functions routing adds to expr, as errors quote them:
// expr's own message says that a call is wrong, not how to write it.
var signatures = map[string]string{
	"prefix":  "prefix(s string, p1 string, p2 string, …) bool: s starts with any of the prefixes",
	"between": "between(value int, from int, to int) bool: from <= value < to, wrapping past midnight when from > to (between(hour, 22, 6))",
}

var unknownName = regexp.MustCompile(`unknown name ([A-Za-z_][A-Za-z0-9_]*)`)

// hint adds to a rule compiler message what the operator should write
// instead: the variable they probably meant, that a candidate variable
// belongs in the filter, or a function's signature.
func hint(kind, msg string) string {
	if m := unknownName.FindStringSubmatch(msg); m != nil {
		name := m[1]
		if kind == "match" && contains(candidateVars, name) {
			return msg + "; " + name + " is a filter-only variable (it describes one candidate provider, not the message): test it in the route's filter"
		}
		known := append([]string(nil), envVars...)
		if kind == "filter" {
			known = append(known, candidateVars...)
		}
		for fn := range signatures {
			known = append(known, fn)
		}
		if best := closest(name, known); best != "" {
			return msg + "; did you mean `" + best + "`?"
		}
		return msg
	}
	for fn, sig := range signatures {
		if strings.Contains(msg, fn) && (strings.Contains(msg, "argument") || strings.Contains(msg, "call")) {
			return strings.TrimSpace(msg) + "; use " + sig
		}
	}
	return msg
}

// closest is the name in known nearest to name by edit distance, when it is
// near enough to be a typo (a third of the name's length at most), or "".
func closest(name string, known []string) string {
	best, bestD := "", len(name)/3+1
	for _, k := range known {
		if d := editDistance(strings.ToLower(name), k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
