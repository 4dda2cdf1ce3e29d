package core_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/core/numbers"
)

type fakeListers map[string][]numbers.Listed

func (f fakeListers) NumberListers() []string { return []string{"down", "phones"} }

func (f fakeListers) FactsChanged() <-chan struct{} { return nil }

func (f fakeListers) ProviderNumbers(_ context.Context, name string) ([]numbers.Listed, error) {
	if name == "down" {
		return nil, errors.New("plugin unavailable")
	}
	return f[name], nil
}

type fakeReconciler struct {
	got    map[string][]numbers.Number
	cancel context.CancelFunc
}

func (f *fakeReconciler) ReconcilePluginNumbers(_ context.Context, provider string, ns []numbers.Number) (numbers.Reconciled, error) {
	f.got[provider] = ns
	f.cancel() // one round is enough
	return numbers.Reconciled{Added: len(ns)}, nil
}

// TestSyncPluginNumbers: a provider's listed numbers reach the inventory
// as plugin numbers of that provider, a number the inventory cannot take
// is left out, and a provider that cannot answer is left alone (its
// numbers are not reconciled to nothing).
func TestSyncPluginNumbers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := fakeListers{"phones": {{Number: "+959123456789", CanSend: true}, {Number: "not a number"}, {Number: "12345", Country: "MM"}}}
	st := &fakeReconciler{got: map[string][]numbers.Number{}, cancel: cancel}
	core.SyncPluginNumbers(ctx, src, st, core.NumberSyncOptions{})

	if _, ok := st.got["down"]; ok {
		t.Errorf("a provider that could not list its numbers was reconciled: %+v", st.got["down"])
	}
	var got []string
	for _, n := range st.got["phones"] {
		if n.Provider != "phones" || n.Source != numbers.SourcePlugin || !n.Receive || n.State != numbers.Available || n.Country != "MM" {
			t.Errorf("number %+v: want a receiving, available plugin number of phones in MM", n)
		}
		got = append(got, n.E164)
	}
	if want := []string{"+959123456789", "12345"}; !reflect.DeepEqual(got, want) {
		t.Errorf("reconciled %v, want %v", got, want)
	}
	if len(st.got["phones"]) == 2 && !st.got["phones"][0].Send {
		t.Errorf("CanSend was not carried: %+v", st.got["phones"][0])
	}
}
