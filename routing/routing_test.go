package routing_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/smsrouter/smsrouter/routing"
)

func at(line int) hcl.Range {
	return hcl.Range{Filename: "r.hcl", Start: hcl.Pos{Line: line, Column: 1}, End: hcl.Pos{Line: line, Column: 10}}
}

func rc(name string, line int, def bool, candidates ...string) routing.RouteConfig {
	return routing.RouteConfig{Name: name, Default: def, Candidates: candidates,
		Range: at(line), DefaultRange: at(line + 1), CandidatesRange: at(line + 2)}
}

func TestCompileErrors(t *testing.T) {
	providers := []string{"sandbox", "smpp-eu-1"}
	tests := []struct {
		name   string
		routes []routing.RouteConfig
		want   []string
	}{
		{"no routes", nil, []string{
			"No default route: exactly one route must have default = true and come last, so every message has somewhere to go"}},
		{"unknown provider", []routing.RouteConfig{rc("main", 1, true, "sandbox", "twilio")}, []string{
			`r.hcl:3:1: Unknown provider: route "main" names provider "twilio", which is not configured; configured providers: sandbox, smpp-eu-1`}},
		{"repeated and empty", []routing.RouteConfig{rc("main", 1, true, "sandbox", "sandbox")}, []string{
			`r.hcl:3:1: Repeated candidate: route "main" lists provider "sandbox" more than once`}},
		{"no candidates", []routing.RouteConfig{rc("main", 1, true)}, []string{
			`r.hcl:3:1: No candidates: route "main" must list at least one provider in candidates`}},
		{"non-default route and default not last", []routing.RouteConfig{rc("main", 1, true, "sandbox"), rc("mm", 10, false, "sandbox")}, []string{
			`r.hcl:10:1: Route matching is not available yet: route "mm" is not the default; route matching arrives with the routing engine, so for now configure a single route with default = true`,
			`r.hcl:2:1: Default route is not last: route "main" is the default, so it must be the last route block; routes are tried in order and nothing after the default would ever match`}},
		{"two defaults and duplicate name", []routing.RouteConfig{rc("a", 1, true, "sandbox"), rc("a", 10, true, "sandbox")}, []string{
			`r.hcl:10:1: Duplicate route: route "a" is already defined on line 1; route names must be unique`,
			`r.hcl:11:1: More than one default route: route "a" is a default route but "a" already is; exactly one route may have default = true`}},
		{"only non-default", []routing.RouteConfig{rc("mm", 1, false, "sandbox")}, []string{
			`r.hcl:1:1: Route matching is not available yet: route "mm" is not the default; route matching arrives with the routing engine, so for now configure a single route with default = true`,
			`r.hcl:1:1: No default route: exactly one route must have default = true and come last, so every message has somewhere to go`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			table, err := routing.Compile(tc.routes, providers)
			if table != nil {
				t.Errorf("got a table despite errors")
			}
			var ce *routing.CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *CompileError", err)
			}
			if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", err, strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestPlanUsesDefaultRoute(t *testing.T) {
	table, err := routing.Compile([]routing.RouteConfig{rc("default", 1, true, "smpp-eu-1", "sandbox")}, []string{"sandbox", "smpp-eu-1"})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := table.Plan(context.Background(), routing.Facts{To: "+959123456789", Country: "MM"})
	if err != nil {
		t.Fatal(err)
	}
	want := routing.Plan{Route: "default", Candidates: []routing.Candidate{{Provider: "smpp-eu-1"}, {Provider: "sandbox"}}}
	if !reflect.DeepEqual(plan, want) {
		t.Errorf("plan %+v, want %+v", plan, want)
	}
	plan.Candidates[0].Provider = "changed"
	again, _ := table.Plan(context.Background(), routing.Facts{To: "+14155552671"})
	if again.Candidates[0].Provider != "smpp-eu-1" {
		t.Errorf("changing a returned plan changed the table")
	}
	if got := table.Routes(); !reflect.DeepEqual(got, []string{"default"}) {
		t.Errorf("Routes() = %v", got)
	}
	if got := table.Providers(); !reflect.DeepEqual(got, []string{"sandbox", "smpp-eu-1"}) {
		t.Errorf("Providers() = %v", got)
	}
}

func TestPlanCancelled(t *testing.T) {
	table, err := routing.Compile([]routing.RouteConfig{rc("default", 1, true, "sandbox")}, []string{"sandbox"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := table.Plan(ctx, routing.Facts{To: "+14155552671"}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestNoRouteError(t *testing.T) {
	var table *routing.Table
	_, err := table.Plan(context.Background(), routing.Facts{To: "+959123456789", Country: "MM"})
	var nr *routing.NoRouteError
	if !errors.As(err, &nr) {
		t.Fatalf("err = %v, want *NoRouteError", err)
	}
	if got := err.Error(); got != "no route for +959123456789 (country MM)" {
		t.Errorf("Error() = %q", got)
	}
}
