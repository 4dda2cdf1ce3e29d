package sandbox

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/smsrouter/smsrouter/sdk"
)

var _ sdk.Tuner = (*Provider)(nil)

// tunable is one setting Tune may change on the running sandbox: how to
// read it from text into s, and how to show it.
type tunable struct {
	set  func(s *settings, v string) error
	show func(s settings) string
}

// tunables are the settings operators and tests change at runtime to
// rehearse failover (issue: sandbox controls): health, refusal, balance,
// failure ratios and latencies.
var tunables = map[string]tunable{
	"health": {
		set: func(s *settings, v string) error {
			switch v {
			case "up", "down":
				s.down = v == "down"
				return nil
			}
			return errors.New(`want "up" or "down"`)
		},
		show: func(s settings) string { return map[bool]string{false: "up", true: "down"}[s.down] },
	},
	"refuse_while_down": {
		set: func(s *settings, v string) error {
			b, err := strconv.ParseBool(v)
			s.refuseWhileDown = b
			return boolErr(err)
		},
		show: func(s settings) string { return strconv.FormatBool(s.refuseWhileDown) },
	},
	"balance": {
		set: func(s *settings, v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return errors.New("want a finite number, the amount in the balance's currency")
			}
			s.balance.Amount = f
			return nil
		},
		show: func(s settings) string { return strconv.FormatFloat(s.balance.Amount, 'f', -1, 64) },
	},
	"failure_ratio":  ratio(func(s *settings) *float64 { return &s.failureRatio }),
	"reject_ratio":   ratio(func(s *settings) *float64 { return &s.rejectRatio }),
	"delivery_ratio": ratio(func(s *settings) *float64 { return &s.deliveryRatio }),
	"accept_latency": duration(maxAcceptLatency, func(s *settings) *time.Duration { return &s.acceptLatency }),
	"dlr_delay":      duration(maxDLRDelay, func(s *settings) *time.Duration { return &s.dlrDelay }),
}

func ratio(field func(*settings) *float64) tunable {
	return tunable{
		set: func(s *settings, v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsNaN(f) || f < 0 || f > 1 {
				return errors.New("want a fraction between 0 and 1")
			}
			*field(s) = f
			return nil
		},
		show: func(s settings) string { return strconv.FormatFloat(*field(&s), 'f', -1, 64) },
	}
}

func duration(limit time.Duration, field func(*settings) *time.Duration) tunable {
	return tunable{
		set: func(s *settings, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 || d > limit {
				return fmt.Errorf("want a duration such as 200ms, from 0s to %s", limit)
			}
			*field(s) = d
			return nil
		},
		show: func(s settings) string { return field(&s).String() },
	}
}

func boolErr(err error) error {
	if err != nil {
		return errors.New("want true or false")
	}
	return nil
}

// Tune changes the running sandbox's tunables, all or none, until it is
// configured again; an empty map only reads them. "health" = "down" makes
// Health report the link down and Send answer every message Unavailable,
// as a real upstream outage would; with "refuse_while_down" = "true" the
// host refuses messages for it at accept meanwhile.
func (p *Provider) Tune(_ context.Context, changes map[string]string) (map[string]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	next := p.cfg
	names := make([]string, 0, len(changes))
	for name := range changes {
		names = append(names, name)
	}
	slices.Sort(names) // the first bad one named is the same every time
	for _, name := range names {
		t, ok := tunables[name]
		if !ok {
			return nil, fmt.Errorf("sandbox: %w %q: the sandbox tunes %s", sdk.ErrInvalidTune, name, strings.Join(tunableNames(), ", "))
		}
		if err := t.set(&next, strings.TrimSpace(changes[name])); err != nil {
			return nil, fmt.Errorf("sandbox: %w %s = %q: %w", sdk.ErrInvalidTune, name, changes[name], err)
		}
	}
	if next.failureRatio+next.rejectRatio > 1 {
		return nil, fmt.Errorf("sandbox: %w: failure_ratio and reject_ratio together %v exceed 1", sdk.ErrInvalidTune, next.failureRatio+next.rejectRatio)
	}
	if len(names) > 0 {
		p.logger.Info("sandbox tuned", "changes", changes)
	}
	p.cfg = next
	return tunedValues(next), nil
}

func tunedValues(s settings) map[string]string {
	out := make(map[string]string, len(tunables))
	for name, t := range tunables {
		out[name] = t.show(s)
	}
	return out
}

func tunableNames() []string {
	names := make([]string, 0, len(tunables))
	for name := range tunables {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
