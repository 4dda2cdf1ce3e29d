package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/smsrouter/smsrouter/core/pluginhost"
	"github.com/smsrouter/smsrouter/core/provider"
)

// ProviderControls are the admin actions on a running provider: revoking a
// phone's token and changing a provider's tunables (the sandbox's outage
// rehearsals). The plugin host implements it.
type ProviderControls interface {
	RevokeDevice(ctx context.Context, name, id string) error
	Tune(ctx context.Context, name string, changes map[string]string) (map[string]string, error)
}

// controlTimeout bounds one admin action on a provider.
const controlTimeout = 10 * time.Second

func (a *api) deviceRoutes(authed *gin.RouterGroup) {
	authed.DELETE("/admin/providers/:name/devices/:id", requireSystem, a.revokeDevice)
	authed.POST("/admin/providers/:name/tune", requireSystem, a.tune)
}

func (a *api) revokeDevice(c *gin.Context) {
	if a.o.Controls == nil {
		fail(c, http.StatusServiceUnavailable, "this server runs no providers")
		return
	}
	name, id := c.Param("name"), c.Param("id")
	ctx, cancel := context.WithTimeout(c.Request.Context(), controlTimeout)
	defer cancel()
	if err := a.o.Controls.RevokeDevice(ctx, name, id); err != nil {
		a.controlError(c, name, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"provider": name, "device": id, "revoked": true})
}

func (a *api) tune(c *gin.Context) {
	if a.o.Controls == nil {
		fail(c, http.StatusServiceUnavailable, "this server runs no providers")
		return
	}
	var changes map[string]string
	if err := json.NewDecoder(c.Request.Body).Decode(&changes); err != nil {
		fail(c, http.StatusBadRequest, `body must be a JSON object of tunables and their values as strings, e.g. {"health":"down"}: `+err.Error())
		return
	}
	name := c.Param("name")
	ctx, cancel := context.WithTimeout(c.Request.Context(), controlTimeout)
	defer cancel()
	values, err := a.o.Controls.Tune(ctx, name, changes)
	if err != nil {
		a.controlError(c, name, err)
		return
	}
	a.log.Info("provider tuned by an admin", "provider", name, "key_id", apiKey(c).ID, "changes", changes)
	c.JSON(http.StatusOK, gin.H{"provider": name, "values": values})
}

// controlError renders a refused admin action on a provider.
func (a *api) controlError(c *gin.Context, name string, err error) {
	switch {
	case errors.Is(err, pluginhost.ErrUnknownProvider):
		fail(c, http.StatusNotFound, fmt.Sprintf("no provider named %q", name))
	case errors.Is(err, pluginhost.ErrDeviceNotFound):
		fail(c, http.StatusNotFound, err.Error())
	case pluginhost.IsNotSupported(err):
		fail(c, http.StatusConflict, err.Error())
	case errors.Is(err, pluginhost.ErrInvalidTune):
		fail(c, http.StatusUnprocessableEntity, err.Error())
	case errors.Is(err, pluginhost.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		c.Header("Retry-After", "1")
		fail(c, http.StatusServiceUnavailable, fmt.Sprintf("provider %s is not running or did not answer: %v", name, err))
	default:
		a.log.Error("admin action on a provider failed", "provider", name, "error", err)
		fail(c, http.StatusBadGateway, fmt.Sprintf("provider %s refused: %v", name, err))
	}
}

// deviceJSON is a phone or modem port as admins see it.
type deviceJSON struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	Kind         string    `json:"kind"`
	Online       bool      `json:"online"`
	LastSeen     *string   `json:"last_seen"`
	Battery      *int      `json:"battery,omitempty"`
	Charging     bool      `json:"charging,omitempty"`
	InFlight     int       `json:"in_flight"`
	SentToday    int       `json:"sent_today"`
	SIMs         []simJSON `json:"sims"`
	IMEI         string    `json:"imei,omitempty"`
	IMSI         string    `json:"imsi,omitempty"`
	Operator     string    `json:"operator,omitempty"`
	Country      string    `json:"country,omitempty"`
	SignalDBm    *int      `json:"signal_dbm,omitempty"`
	Registration string    `json:"registration,omitempty"`
	Detail       string    `json:"detail,omitempty"`
}

type simJSON struct {
	Slot     int    `json:"slot"`
	Number   string `json:"number,omitempty"`
	Operator string `json:"operator,omitempty"`
	Country  string `json:"country,omitempty"`
}

func devicesJSON(devs []provider.Device) []deviceJSON {
	if devs == nil {
		return nil
	}
	out := make([]deviceJSON, len(devs))
	for i, d := range devs {
		out[i] = deviceJSON{ID: d.ID, Name: d.Name, Kind: string(d.Kind), Online: d.Online, Battery: d.Battery,
			Charging: d.Charging, InFlight: d.InFlight, SentToday: d.SentToday, SIMs: []simJSON{}, IMEI: d.IMEI, IMSI: d.IMSI,
			Operator: d.Operator, Country: d.Country, SignalDBm: d.Signal, Registration: string(d.Registration), Detail: d.Detail}
		if !d.LastSeen.IsZero() {
			at := d.LastSeen.UTC().Format(time.RFC3339)
			out[i].LastSeen = &at
		}
		for _, s := range d.SIMs {
			out[i].SIMs = append(out[i].SIMs, simJSON{Slot: s.Slot, Number: s.Number, Operator: s.Operator, Country: s.Country})
		}
	}
	return out
}
