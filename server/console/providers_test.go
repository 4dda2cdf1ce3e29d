package console

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestProviderRowDevices(t *testing.T) {
	tests := []struct {
		name     string
		provider string
		cols     []string
		devices  int
	}{
		{"no devices field", `{"name":"sandbox"}`, nil, 0},
		{"empty list", `{"name":"phones","devices":[]}`, nil, 0},
		{"phones: id and name first, the rest by name", `{"name":"phones","devices":[
			{"signal":"-71","name":"Pixel","id":"dev_1","online":true},
			{"id":"dev_2","name":"Moto","online":false,"sim":"+95911"}]}`, []string{"id", "name", "online", "signal", "sim"}, 2},
		{"not objects are skipped", `{"name":"odd","devices":["x",{"id":"p1"}]}`, []string{"id"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p map[string]any
			if err := json.Unmarshal([]byte(tt.provider), &p); err != nil {
				t.Fatal(err)
			}
			row := providerRowOf(p)
			if len(row.Devices) != tt.devices || !reflect.DeepEqual(row.DeviceColumns, tt.cols) {
				t.Errorf("devices %d columns %v, want %d and %v", len(row.Devices), row.DeviceColumns, tt.devices, tt.cols)
			}
		})
	}
}

func TestCell(t *testing.T) {
	var sims any
	_ = json.Unmarshal([]byte(`[{"slot":1,"number":"+959111","operator":"MPT"},{"slot":2}]`), &sims)
	for _, tt := range []struct {
		v    any
		want string
	}{
		{nil, "—"}, {true, "yes"}, {false, "no"}, {float64(87), "87"}, {"Pixel", "Pixel"}, {[]any{}, "—"},
		{sims, "number +959111, operator MPT, slot 1; slot 2"},
	} {
		if got := cell(tt.v); got != tt.want {
			t.Errorf("cell(%#v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}
