package android

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// stateFile keeps the registered phones across restarts of the plugin,
// which has no database: ids, names, SIMs and the SHA-256 of each device
// token, never a token itself, so the file gives nobody a phone's access.
// Written whole, to a temporary file renamed over the old one, on every
// registration, SIM update and revocation, all rare.
type stateFile struct {
	path string
}

// stateVersion is the file format's version.
const stateVersion = 1

type stateDoc struct {
	Version int          `json:"version"`
	Phones  []statePhone `json:"phones"`
}

type statePhone struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	TokenSHA256 string    `json:"token_sha256"`
	CreatedAt   time.Time `json:"created_at"`
	LastSeen    time.Time `json:"last_seen"`
	SIMs        []*sim    `json:"sims,omitempty"`
}

// load reads the phones; a missing file is no phones yet.
func (f *stateFile) load() ([]*device, error) {
	data, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the phones from %s: %w", f.path, err)
	}
	var doc stateDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("the phones file %s is not valid JSON (move it away to start without phones): %w", f.path, err)
	}
	if doc.Version != stateVersion {
		return nil, fmt.Errorf("the phones file %s has version %d; this plugin reads version %d", f.path, doc.Version, stateVersion)
	}
	out := make([]*device, 0, len(doc.Phones))
	for _, ph := range doc.Phones {
		if ph.ID == "" || len(ph.TokenSHA256) != 64 {
			return nil, fmt.Errorf("the phones file %s has a phone without an id or token hash", f.path)
		}
		d := newDevice(ph.ID, ph.Name, ph.TokenSHA256, ph.CreatedAt)
		// A phone seen just before a restart counts online until three ping
		// intervals passed, as it would have without the restart; its
		// event stream reconnects within seconds.
		d.lastSeen = ph.LastSeen
		d.SIMs = ph.SIMs
		out = append(out, d)
	}
	return out, nil
}

// save writes the phones, readable by the plugin's user only.
func (f *stateFile) save(devices []*device) error {
	doc := stateDoc{Version: stateVersion, Phones: make([]statePhone, 0, len(devices))}
	for _, d := range devices {
		doc.Phones = append(doc.Phones, statePhone{ID: d.ID, Name: d.Name, TokenSHA256: d.TokenHash,
			CreatedAt: d.CreatedAt, LastSeen: d.lastSeen, SIMs: d.SIMs})
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.path), filepath.Base(f.path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("saving the phones: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("saving the phones to %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("saving the phones to %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("saving the phones to %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), f.path); err != nil {
		return fmt.Errorf("saving the phones to %s: %w", f.path, err)
	}
	return nil
}

// devicesLocked lists the phones by id.
func (p *pool) devicesLocked() []*device {
	out := make([]*device, 0, len(p.devices))
	for _, d := range p.devices {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// saveLocked writes the phones when a state file is configured.
func (p *pool) saveLocked() error {
	if p.state == nil {
		return nil
	}
	return p.state.save(p.devicesLocked())
}
