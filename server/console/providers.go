package console

import (
	"net/http"
	"slices"
)

// providerRow is a provider as GET /api/v1/admin/providers reports it, with
// its devices' columns gathered for one table.
type providerRow struct {
	P map[string]any
	// Devices are the phones or modem ports the provider reports, when it
	// reports any; DeviceColumns are the fields they carry, in a stable
	// order.
	Devices       []map[string]any
	DeviceColumns []string
}

// providers is the providers page: state, restarts and crash loops,
// health, balance, limits and devices (system admins only: the API
// decides).
func (c *Console) providers(w http.ResponseWriter, r *http.Request, se *session) {
	p := c.pageFor(se, "Providers", "providers")
	var list struct {
		Providers []map[string]any `json:"providers"`
	}
	a := c.call(r.Context(), se.key, http.MethodGet, "/api/v1/admin/providers", nil)
	rows := []providerRow{}
	p.Data = &rows
	if c.apiFailed(w, "providers", p, a) {
		return
	}
	_ = a.Decode(&list)
	for _, pr := range list.Providers {
		rows = append(rows, providerRowOf(pr))
	}
	c.render(w, http.StatusOK, "providers", p)
}

func providerRowOf(p map[string]any) providerRow {
	row := providerRow{P: p}
	devs, _ := p["devices"].([]any)
	seen := map[string]bool{}
	for _, d := range devs {
		m, ok := d.(map[string]any)
		if !ok {
			continue
		}
		row.Devices = append(row.Devices, m)
		for k := range m {
			if !seen[k] {
				seen[k] = true
				row.DeviceColumns = append(row.DeviceColumns, k)
			}
		}
	}
	slices.SortFunc(row.DeviceColumns, deviceColumnOrder)
	return row
}

// deviceColumnOrder puts a device's id and name first, then the rest by
// name.
func deviceColumnOrder(a, b string) int {
	rank := func(s string) int {
		switch s {
		case "id":
			return 0
		case "name":
			return 1
		case "kind":
			return 2
		case "online", "state", "status":
			return 3
		}
		return 4
	}
	if ra, rb := rank(a), rank(b); ra != rb {
		return ra - rb
	}
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	return 0
}
