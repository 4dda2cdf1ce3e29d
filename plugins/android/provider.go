package android

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsrouter/smsrouter/sdk"
)

// version is the plugin's own version, shown in the provider list.
const version = "0.1.0"

// recentMax bounds how many taken messages the pool remembers for their
// later reports: at a phone's 30 a minute, days of a large pool.
const recentMax = 200000

var (
	_ sdk.Provider          = (*Provider)(nil)
	_ sdk.HookHandler       = (*Provider)(nil)
	_ sdk.HealthChecker     = (*Provider)(nil)
	_ sdk.SentQuerier       = (*Provider)(nil)
	_ sdk.SettingsValidator = (*Provider)(nil)
)

// Provider is the Android phone gateway: phones running the SMS Gateway for
// Android app in private-server mode connect to its hooks and send the
// messages Send offers them.
type Provider struct {
	pool
	name    string
	hookURL string
}

// pool is the provider's phones and the messages offered to them.
type pool struct {
	mu         sync.Mutex
	s          settings
	now        func() time.Time
	configured bool
	closed     bool
	closing    chan struct{} // closed by Close: ends every event stream
	devices    map[string]*device
	byToken    map[string]*device
	jobs       map[string]*job
	recent     *recentSet
	changed    chan struct{}
	assigned   uint64 // messages given to phones so far, the clock of least recently used
	state      *stateFile
	journal    *journal
	log        hclog.Logger
}

// New returns an unconfigured provider.
func New() *Provider {
	return &Provider{pool: pool{now: time.Now, closing: make(chan struct{}), changed: make(chan struct{}),
		devices: map[string]*device{}, byToken: map[string]*device{}, jobs: map[string]*job{}, recent: newRecentSet(recentMax)}}
}

// Info describes the plugin.
func (p *Provider) Info() sdk.Info {
	p.mu.Lock()
	defer p.mu.Unlock()
	batch := defaultSettings().MaxBatchSize
	if p.configured {
		batch = p.s.MaxBatchSize
	}
	return sdk.Info{Name: "android", Version: version, MaxBatchSize: batch}
}

// ValidateSettings checks settings as Configure does, without reading the
// state file, for smsrouter config validate.
func (p *Provider) ValidateSettings(_ context.Context, cfg sdk.Config) error {
	_, err := parseSettings(cfg.Settings)
	return err
}

// Configure checks the settings and loads the phones registered before.
func (p *Provider) Configure(_ context.Context, cfg sdk.Config) error {
	s, err := parseSettings(cfg.Settings)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.configured {
		return errors.New("android: already configured")
	}
	p.s, p.name, p.hookURL, p.log = s, cfg.Name, cfg.HookURL, cfg.Log()
	if s.StateFile != "" {
		p.state = &stateFile{path: s.StateFile}
		devices, err := p.state.load()
		if err != nil {
			return sdk.BadSetting("state_file", "%v", err)
		}
		for _, d := range devices {
			p.addDeviceLocked(d)
		}
		p.journal, err = openJournal(s.StateFile+".taken", p.recent)
		if err != nil {
			return sdk.BadSetting("state_file", "%v", err)
		}
	}
	p.configured = true
	p.log.Info("android gateway configured", "phones", len(p.devices), "when_offline", s.WhenOffline,
		"lease", s.Lease, "rate_limit", s.RateLimit, "rate_period", s.RatePeriod, "state_file", s.StateFile,
		"phone_url", p.phoneURL())
	return nil
}

// phoneURL is the server URL typed into the app.
func (p *Provider) phoneURL() string { return p.hookURL + mobilePrefix }

// addDeviceLocked puts d in the pool with the pacing its settings give it.
func (p *pool) addDeviceLocked(d *device) {
	limit := p.s.RateLimit
	conf, ok := p.s.phone(d.Name)
	if ok && conf.RateLimit > 0 {
		limit = conf.RateLimit
	}
	d.pace = newWindow(limit, p.s.RatePeriod.D())
	p.applySIMsLocked(d, d.SIMs)
	p.devices[d.ID] = d
	p.byToken[d.TokenHash] = d
}

// applySIMsLocked sets d's SIMs from what the app reported, completed by
// the operator's configuration for the phone's name, which wins.
func (p *pool) applySIMsLocked(d *device, reported []*sim) {
	bySlot := map[int]*sim{}
	for _, s := range reported {
		bySlot[s.Slot] = s
	}
	if conf, ok := p.s.phone(d.Name); ok {
		for _, c := range conf.SIMs {
			s := bySlot[c.Slot]
			if s == nil {
				s = &sim{Slot: c.Slot}
				bySlot[c.Slot] = s
			}
			if c.Number != "" {
				s.Number = c.Number
			}
			if c.Operator != "" {
				s.Operator = c.Operator
			}
			if c.Country != "" {
				s.Country = c.Country
			}
			s.Prefixes = c.Prefixes
		}
	}
	prev := d.SIMs
	d.SIMs = nil
	for slot := 1; slot <= 3; slot++ {
		s := bySlot[slot]
		if s == nil {
			continue
		}
		if old := findSIM(prev, slot); old != nil && old.pace != nil {
			s.pace, s.lastUsed = old.pace, old.lastUsed
		} else if p.s.SIMRateLimit > 0 {
			s.pace = newWindow(p.s.SIMRateLimit, p.s.RatePeriod.D())
		}
		d.SIMs = append(d.SIMs, s)
	}
}

func findSIM(sims []*sim, slot int) *sim {
	for _, s := range sims {
		if s.Slot == slot {
			return s
		}
	}
	return nil
}

// Close ends every event stream and saves the phones.
func (p *Provider) Close(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	close(p.closing)
	p.signalLocked()
	if err := p.journal.close(); err != nil {
		return fmt.Errorf("android: closing the taken-messages journal: %w", err)
	}
	if p.state != nil && len(p.devices) > 0 {
		if err := p.state.save(p.devicesLocked()); err != nil {
			return fmt.Errorf("android: saving phones at close: %w", err)
		}
	}
	return nil
}

// QuerySent answers the messages a phone took in this process's life.
func (p *Provider) QuerySent(_ context.Context, ids []string) ([]sdk.SendResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []sdk.SendResult
	for _, id := range ids {
		if p.recent.get(id) != nil {
			out = append(out, sdk.SendResult{MessageID: id, Outcome: sdk.Accepted, ProviderMessageID: id})
		}
	}
	return out, nil
}
