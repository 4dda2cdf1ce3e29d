package config

import (
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// SettingRanges are where the settings of a provider's config block are in
// the file, by path (keys joined by ".", list elements by index: "auth.token",
// "numbers.0"), so that a plugin's complaint about one setting points at its
// line.
type SettingRanges struct {
	// Block is the config attribute, for settings without a place of their
	// own (a misspelt key's range is its own; a missing one has none).
	Block  hcl.Range
	byPath map[string]hcl.Range
}

// At returns the range of the setting at path, or of the nearest enclosing
// object that has one (a missing "auth.token" points at "auth"), or of the
// config attribute.
func (r SettingRanges) At(path string) hcl.Range {
	for path != "" {
		if rng, ok := r.byPath[path]; ok {
			return rng
		}
		i := strings.LastIndexByte(path, '.')
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return r.Block
}

// settingRanges records where each key of a literal config object is.
// Settings computed by an expression (a conditional) have no places of their
// own; their problems point at the attribute.
func (d *decoder) settingRanges(a *hcl.Attribute) SettingRanges {
	r := SettingRanges{Block: a.Range, byPath: map[string]hcl.Range{}}
	d.collectRanges(a.Expr, "", r.byPath)
	return r
}

func (d *decoder) collectRanges(expr hcl.Expression, prefix string, into map[string]hcl.Range) {
	switch e := expr.(type) {
	case *hclsyntax.ObjectConsExpr:
		for _, item := range e.Items {
			key, diags := item.KeyExpr.Value(d.ctx)
			if diags.HasErrors() || !key.Type().Equals(cty.String) || key.IsNull() || !key.IsKnown() {
				continue
			}
			path := prefix + key.AsString()
			into[path] = item.KeyExpr.Range()
			d.collectRanges(item.ValueExpr, path+".", into)
		}
	case *hclsyntax.TupleConsExpr:
		for i, el := range e.Exprs {
			path := prefix + strconv.Itoa(i)
			into[path] = el.Range()
			d.collectRanges(el, path+".", into)
		}
	}
}

// HookURL is where the upstream of the named provider calls this server
// back: what the provider's plugin receives as sdk.Config.HookURL.
func (c *Config) HookURL(provider string) string {
	return strings.TrimRight(c.Server.PublicURL, "/") + "/api/v1/providers/" + provider + "/hooks"
}
