package config

import (
	"bytes"
	"regexp"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/smsrouter/smsrouter/routing"
)

// rule decodes a match or filter attribute. When the rule is a plain string
// or heredoc, errors the rule compiler finds point at the exact character
// inside it; otherwise (built with interpolation or functions) they point at
// the attribute's value.
func (d *decoder) rule(a *hcl.Attribute) (routing.Rule, bool) {
	s, ok := d.str(a)
	if !ok {
		return routing.Rule{}, false
	}
	r := routing.Rule{Source: s, Range: a.Expr.Range()}
	if te, isTemplate := a.Expr.(*hclsyntax.TemplateExpr); isTemplate {
		if pos := d.positions(te, s); pos != nil {
			r.At = func(offset int) hcl.Pos {
				return pos[min(max(offset, 0), len(pos)-1)]
			}
		}
	}
	return r, true
}

// positions returns, for each rune of the decoded template text (and one
// past its end), that rune's position in the file, or nil when the template
// is not made of literals only. Escapes (\" and the like) and the
// indentation <<- strips are stepped over, so positions stay exact.
func (d *decoder) positions(te *hclsyntax.TemplateExpr, decoded string) []hcl.Pos {
	var out []hcl.Pos
	text := ""
	for _, part := range te.Parts {
		lit, ok := part.(*hclsyntax.LiteralValueExpr)
		if !ok || !lit.Val.Type().Equals(cty.String) || lit.Val.IsNull() {
			return nil
		}
		rng := lit.SrcRange
		if rng.End.Byte > len(d.src) || rng.Start.Byte > rng.End.Byte {
			return nil
		}
		val := lit.Val.AsString()
		text += val
		out = append(out, align(val, d.src[rng.Start.Byte:rng.End.Byte], rng.Start)...)
	}
	if text != decoded || len(out) == 0 {
		return nil
	}
	return append(out, out[len(out)-1])
}

// align maps each rune of val to the position of the raw source rune it
// came from, starting at start.
func align(val string, raw []byte, start hcl.Pos) []hcl.Pos {
	out := make([]hcl.Pos, 0, utf8.RuneCountInString(val))
	pos, i := start, 0
	advance := func() {
		r, size := utf8.DecodeRune(raw[i:])
		i += size
		pos.Byte += size
		if r == '\n' {
			pos.Line++
			pos.Column = 1
		} else {
			pos.Column++
		}
	}
	for _, want := range val {
		for i < len(raw) {
			r, _ := utf8.DecodeRune(raw[i:])
			if r == want || r == '\\' {
				break
			}
			if r != ' ' && r != '\t' {
				break
			}
			advance() // indentation stripped by <<-
		}
		out = append(out, pos)
		if i >= len(raw) {
			continue
		}
		if raw[i] == '\\' && (want != '\\' || i+1 < len(raw) && raw[i+1] == '\\') {
			// A quoted string's escape: several source characters, one rune.
			n := 2
			if i+1 < len(raw) {
				switch raw[i+1] {
				case 'u':
					n = 6
				case 'U':
					n = 10
				}
			}
			for k := 0; k < n && i < len(raw); k++ {
				advance()
			}
			continue
		}
		advance()
	}
	return out
}

// ruleLine is a match or filter attribute written as a quoted string.
var ruleLine = regexp.MustCompile(`^\s*(match|filter)\s*=\s*"`)

// quotingHints explains the syntax errors double quotes inside a rule
// cause: HCL ends the string at the second quote and reports what follows
// ("Missing newline after argument"), which says nothing about the fix.
func quotingHints(diags hcl.Diagnostics, src []byte) hcl.Diagnostics {
	lines := bytes.Split(src, []byte("\n"))
	for _, d := range diags {
		if d.Subject == nil || d.Subject.Start.Line < 1 || d.Subject.Start.Line > len(lines) {
			continue
		}
		line := lines[d.Subject.Start.Line-1]
		if ruleLine.Match(line) && bytes.Count(line, []byte(`"`))-bytes.Count(line, []byte(`\"`)) > 2 {
			d.Detail += " A rule is one quoted string, so write the strings inside it with single quotes: match = \"country == 'MM'\"."
		}
	}
	return diags
}
