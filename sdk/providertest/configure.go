package providertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/smsrouter/smsrouter/sdk"
)

func (k *kit) testInfo(t tb) {
	in := k.start(t)
	info := in.p.Info()
	if info.Name == "" {
		t.Errorf("Info().Name is empty; it should be the plugin kind, e.g. \"smpp\"")
	}
	if info.Version == "" {
		t.Errorf("Info().Version is empty")
	}
	if info.MaxBatchSize < 0 {
		t.Errorf("Info().MaxBatchSize is %d; want 0 (meaning 1) or more", info.MaxBatchSize)
	}
	if in.caps.MaxBatchSize < 1 {
		t.Errorf("capabilities report MaxBatchSize %d; want at least 1", in.caps.MaxBatchSize)
	}
	if in.caps.Name != info.Name {
		t.Errorf("capabilities name %q differs from Info().Name %q", in.caps.Name, info.Name)
	}
	if in.proc != nil {
		if pid := in.proc.PID(); pid <= 0 || pid == os.Getpid() {
			t.Errorf("plugin PID is %d, want a process other than the host's (%d)", pid, os.Getpid())
		}
	}
}

func (k *kit) testBadSettings(t tb) {
	if len(k.BadSettings) == 0 {
		t.Skipf("Target.BadSettings is empty")
	}
	for i, bad := range k.BadSettings {
		t.Run(fmt.Sprint(i), func(t tb) {
			in := k.start(t)
			ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
			defer cancel()
			err := in.p.Configure(ctx, k.config(in, bad))
			switch {
			case err == nil:
				t.Errorf("Configure accepted bad settings %s", bad)
			case strings.TrimSpace(err.Error()) == "":
				t.Errorf("Configure rejected bad settings %s with an empty message; operators need to know what is wrong", bad)
			default:
				t.Logf("settings %s rejected: %v", bad, err)
			}
		})
	}
}

// testConfigure checks the good settings and the optional capabilities that
// need no traffic.
func (k *kit) testConfigure(t tb) {
	in := k.start(t)
	k.configure(t, in)
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	defer cancel()
	caps := in.caps
	if caps.Health {
		guard(t, "Health", func() {
			if _, err := in.p.(sdk.HealthChecker).Health(ctx); err != nil {
				t.Errorf("Health: %v", err)
			}
		})
	}
	if caps.Balance {
		guard(t, "Balance", func() { checkBalance(t, in.p.(sdk.BalanceReporter), ctx) })
	}
	if caps.SenderIDs {
		guard(t, "SenderIDs", func() { checkSenderIDs(t, in.p.(sdk.SenderIDLister), ctx) })
	}
	if caps.StatusQuery {
		guard(t, "QueryStatus", func() {
			evs, err := in.p.(sdk.StatusQuerier).QueryStatus(ctx, []string{"providertest-unknown-id"})
			if err != nil {
				t.Errorf("QueryStatus of an unknown id: %v; unknown ids should be left out", err)
			} else if len(evs) != 0 {
				t.Errorf("QueryStatus of an unknown id returned %+v; unknown ids should be left out", evs)
			}
		})
	}
	checkDeviceCapabilities(t, in, ctx)
	if in.proc != nil {
		k.checkUnsupported(t, in)
	}
}

func checkBalance(t tb, b sdk.BalanceReporter, ctx context.Context) {
	bal, err := b.Balance(ctx)
	switch {
	case err != nil:
		t.Errorf("Balance: %v", err)
	case bal.Currency == "":
		t.Errorf("Balance %+v has no currency", bal)
	}
}

func checkSenderIDs(t tb, s sdk.SenderIDLister, ctx context.Context) {
	ids, err := s.SenderIDs(ctx)
	if err != nil {
		t.Errorf("SenderIDs: %v", err)
	}
	for _, id := range ids {
		if id.Value == "" {
			t.Errorf("SenderIDs returned an empty sender: %+v", id)
		}
		switch id.Kind {
		case "alphanumeric", "shortcode", "number":
		default:
			t.Errorf("sender %q has kind %q; want alphanumeric, shortcode or number", id.Value, id.Kind)
		}
	}
}

// checkUnsupported checks that the host's view of a plugin process answers
// ErrUnsupported for capabilities the plugin does not have.
func (k *kit) checkUnsupported(t tb, in *instance) {
	ctx, cancel := context.WithTimeout(t.Context(), promptTimeout)
	defer cancel()
	check := func(name string, has bool, call func() error) {
		if has {
			return
		}
		if err := call(); !errors.Is(err, sdk.ErrUnsupported) {
			t.Errorf("%s on a plugin without that capability returned %v; want an error wrapping sdk.ErrUnsupported", name, err)
		}
	}
	if h, ok := in.p.(sdk.HealthChecker); ok {
		check("Health", in.caps.Health, func() error { _, err := h.Health(ctx); return err })
	}
	if b, ok := in.p.(sdk.BalanceReporter); ok {
		check("Balance", in.caps.Balance, func() error { _, err := b.Balance(ctx); return err })
	}
	if s, ok := in.p.(sdk.SenderIDLister); ok {
		check("SenderIDs", in.caps.SenderIDs, func() error { _, err := s.SenderIDs(ctx); return err })
	}
	if q, ok := in.p.(sdk.StatusQuerier); ok {
		check("QueryStatus", in.caps.StatusQuery, func() error { _, err := q.QueryStatus(ctx, []string{"x"}); return err })
	}
	checkDeviceUnsupported(in, ctx, check)
	if e, ok := in.p.(sdk.EventSource); ok {
		check("Events", in.caps.Events, func() error {
			return e.Events(ctx, func(context.Context, sdk.Event) error { return nil })
		})
	}
}
