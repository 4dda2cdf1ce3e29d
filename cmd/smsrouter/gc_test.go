package main

import (
	"runtime/debug"
	"testing"
)

func TestServeGCDefaultYieldsToGOGC(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	for _, tc := range []struct {
		name        string
		env         map[string]string
		wantPercent string
		wantDefault bool
		wantRuntime int
	}{
		{name: "unset", env: map[string]string{}, wantPercent: "400", wantDefault: true, wantRuntime: 400},
		{name: "set by the operator", env: map[string]string{"GOGC": "150"}, wantPercent: "150", wantRuntime: 100},
		{name: "collector off", env: map[string]string{"GOGC": "off"}, wantPercent: "off", wantRuntime: 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetGCPercent(100)
			lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			percent, isDefault := setServeGC(lookup)
			if percent != tc.wantPercent || isDefault != tc.wantDefault {
				t.Errorf("setServeGC = %q, %v; want %q, %v", percent, isDefault, tc.wantPercent, tc.wantDefault)
			}
			// The runtime itself reads GOGC at start; only the default is
			// applied here.
			if got := debug.SetGCPercent(100); got != tc.wantRuntime {
				t.Errorf("GC percent in force %d, want %d", got, tc.wantRuntime)
			}
		})
	}
}
