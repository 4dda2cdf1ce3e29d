package config

import (
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Metrics is the server block's metrics block: where the Prometheus
// metrics are served and who may read them. The zero value is the default:
// GET /metrics on the API listener, without authentication, with the
// database series re-read at most every 15s.
type Metrics struct {
	// Disabled switches /metrics off (enabled = false).
	Disabled bool
	// Listen, when set, serves /metrics on its own host:port instead of
	// the API listener, e.g. to keep it off a public interface.
	Listen string
	// BearerToken, when set, is required as "Authorization: Bearer ..." on
	// every scrape.
	BearerToken string
	// DatabaseRefresh is how long the queue depth and pending webhooks,
	// read from the database, are reused between scrapes (db_refresh); 0
	// means the default, 15s.
	DatabaseRefresh time.Duration
	// NoDatabase leaves the database series out (db_refresh = "0s"), e.g.
	// on all nodes but one of a cluster, since every node reads the same.
	NoDatabase bool
	// CountRefresh is how long the message counts by status and provider,
	// which read the whole messages table, are reused (count_refresh); 0
	// means the default, 5m.
	CountRefresh time.Duration
	// NoCounts leaves the message counts out (count_refresh = "0s").
	NoCounts bool
}

var metricsSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "enabled"}, {Name: "listen"}, {Name: "bearer_token"}, {Name: "db_refresh"}, {Name: "count_refresh"},
}}

func (d *decoder) metrics(b *hcl.Block, m *Metrics) {
	content, diags := b.Body.Content(metricsSchema)
	d.diags = append(d.diags, diags...)
	if a := content.Attributes["enabled"]; a != nil {
		if v, ok := d.boolean(a); ok {
			m.Disabled = !v
		}
	}
	if a := content.Attributes["listen"]; a != nil {
		if v, ok := d.str(a); ok && v != "" {
			if err := checkListen(v); err != nil {
				d.errorf(a.Expr.Range(), "Invalid metrics listen address",
					"%q %v; use host:port such as \"127.0.0.1:9105\", or leave listen out to serve /metrics on the API listener", v, err)
			} else {
				m.Listen = v
			}
		}
	}
	if a := content.Attributes["bearer_token"]; a != nil {
		if v, ok := d.str(a); ok {
			if strings.TrimSpace(v) != v || strings.ContainsAny(v, " \t\r\n") {
				// Never echo the token: config errors end up in logs.
				d.errorf(a.Expr.Range(), "Invalid metrics bearer_token",
					"the token contains white space, which no Authorization header can carry; check how it is read (a trailing newline from a file?)")
			} else {
				m.BearerToken = v
			}
		}
	}
	if a := content.Attributes["db_refresh"]; a != nil {
		if v, ok := d.duration(a, 0, true); ok {
			switch {
			case v == 0:
				m.NoDatabase = true
			case v < time.Second:
				d.errorf(a.Expr.Range(), "Metrics db_refresh too short",
					"db_refresh %s would read the database on nearly every scrape; use at least \"1s\" (default \"15s\"), or \"0s\" to leave the database series out", v)
			default:
				m.DatabaseRefresh = v
			}
		}
	}
	if a := content.Attributes["count_refresh"]; a != nil {
		if v, ok := d.duration(a, 0, true); ok {
			switch {
			case v == 0:
				m.NoCounts = true
			case v < 10*time.Second:
				d.errorf(a.Expr.Range(), "Metrics count_refresh too short",
					"count_refresh %s: counting the messages table takes about a second per million rows; use at least \"10s\" (default \"5m\"), or \"0s\" to leave the message counts out", v)
			default:
				m.CountRefresh = v
			}
		}
	}
}

// boolean decodes a bool attribute; ok is false when it reported an error.
func (d *decoder) boolean(a *hcl.Attribute) (bool, bool) {
	v, ok := d.value(a.Expr, cty.Bool)
	if !ok {
		return false, false
	}
	return v.True(), true
}
