package console

import (
	"fmt"
	"slices"
	"strings"
)

// cell renders a device field for a table cell: lists and objects (a
// phone's SIMs) as short text, a missing value as a dash.
func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return "—"
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			parts = append(parts, cell(e))
		}
		if len(parts) == 0 {
			return "—"
		}
		return strings.Join(parts, "; ")
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, k+" "+cell(x[k]))
		}
		return strings.Join(parts, ", ")
	}
	return fmt.Sprint(v)
}
