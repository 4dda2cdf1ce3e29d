package routecases

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/routing"
)

// week is the Monday local times without a date are placed in: a fixed
// week, so a case decides the same whatever day it runs.
var week = time.Date(2024, time.January, 1, 0, 0, 0, 0, time.UTC)

// Result is one case's outcome.
type Result struct {
	Case Case
	// Explanation is the decision the table made.
	Explanation routing.Explanation
	// Problems say how the decision differs from the expectation, one
	// line each; empty when the case passed.
	Problems []string
}

// Failed reports whether the decision differed from the expectation.
func (r Result) Failed() bool { return len(r.Problems) > 0 }

// Run decides every case with table and compares the decisions with the
// expectations. A case naming a provider or route the table does not have
// fails with that said, since a typo would otherwise test nothing.
func Run(ctx context.Context, table *routing.Table, cases []Case) []Result {
	router := routing.NewRouter(table, nil)
	out := make([]Result, 0, len(cases))
	for _, c := range cases {
		out = append(out, run(ctx, router, table, c))
	}
	return out
}

func run(ctx context.Context, router *routing.Router, table *routing.Table, c Case) Result {
	res := Result{Case: c}
	providers := table.Providers()
	for name := range c.Providers {
		if !slices.Contains(providers, name) {
			res.Problems = append(res.Problems, fmt.Sprintf("names provider %q, which is not configured (configured: %s)", name, strings.Join(providers, ", ")))
		}
	}
	if c.WantRoute != "" && !slices.Contains(table.Routes(), c.WantRoute) {
		res.Problems = append(res.Problems, fmt.Sprintf("expects route %q, which is not configured (routes: %s)", c.WantRoute, strings.Join(table.Routes(), ", ")))
	}
	f, err := core.Facts(c.Account, c.Request)
	if err != nil {
		res.Problems = append(res.Problems, "the message is refused before routing: "+err.Error())
		return res
	}
	f.MessageID = c.ID
	res.Explanation = router.ExplainWhatIf(ctx, f, routing.WhatIf{At: c.when(table.Location()), Providers: c.Providers})
	res.Problems = append(res.Problems, c.compare(res.Explanation)...)
	return res
}

// when is the moment the case is decided at.
func (c Case) when(loc *time.Location) time.Time {
	if c.Local == "" {
		if c.At.IsZero() {
			return time.Date(week.Year(), week.Month(), week.Day(), 12, 0, 0, 0, loc) // Monday noon, local
		}
		return c.At
	}
	day, clock := 0, c.Local
	if d, rest, ok := strings.Cut(c.Local, " "); ok {
		day = slices.Index([]string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, d)
		clock = rest
	}
	var h, m int
	fmt.Sscanf(clock, "%d:%d", &h, &m)
	return time.Date(week.Year(), week.Month(), week.Day()+day, h, m, 0, 0, loc)
}

// compare lists how ex differs from what c expects.
func (c Case) compare(ex routing.Explanation) []string {
	var out []string
	got := ex.Route
	if ex.Error != "" {
		got = "no route"
	}
	want := c.WantRoute
	if c.WantNoRoute {
		want = "no route"
	}
	if got != want {
		out = append(out, fmt.Sprintf("route  want %s\n       got  %s", want, got))
	}
	if len(c.WantPlan) > 0 && !slices.Equal(c.WantPlan, ex.Candidates) {
		out = append(out, fmt.Sprintf("plan   want %s\n       got  %s", list(c.WantPlan), list(ex.Candidates)))
	}
	if c.WantHeldUntil != "" {
		held := "none"
		if ex.Hold != nil {
			held = ex.Hold.Until.Format("15:04")
		}
		if held != c.WantHeldUntil {
			got := held
			if ex.Hold != nil {
				got += " (" + ex.Hold.Reason + ")"
			}
			out = append(out, fmt.Sprintf("hold   want %s\n       got  %s", c.WantHeldUntil, got))
		}
	}
	return out
}

// Report writes one line per case and, for each failure, the differences
// and why the table decided as it did; it returns how many failed.
func Report(w io.Writer, results []Result) (failed int) {
	for _, r := range results {
		at := fmt.Sprintf("%s:%d:%d", r.Case.Range.Filename, r.Case.Range.Start.Line, r.Case.Range.Start.Column)
		if !r.Failed() {
			fmt.Fprintf(w, "ok    %s: case %q\n", at, r.Case.Name)
			continue
		}
		failed++
		fmt.Fprintf(w, "FAIL  %s: case %q\n", at, r.Case.Name)
		for _, p := range r.Problems {
			fmt.Fprintf(w, "      %s\n", strings.ReplaceAll(p, "\n", "\n      "))
		}
		for _, line := range why(r.Explanation) {
			fmt.Fprintf(w, "      %s\n", line)
		}
	}
	fmt.Fprintf(w, "%d routing cases, %d failed\n", len(results), failed)
	return failed
}

// why summarises an explanation: the facts the rules read and each route's
// outcome, with the dropped candidates of routes that matched.
func why(ex routing.Explanation) []string {
	if len(ex.Routes) == 0 {
		return nil
	}
	m := ex.Message
	out := []string{fmt.Sprintf("why    %s (%s, operator %q), kind %s, local time %s %s", m.To, m.Country, m.Operator, m.Kind, m.LocalTime, m.Weekday)}
	for _, r := range ex.Routes {
		out = append(out, fmt.Sprintf("       route %s: %s", r.Name, r.Outcome))
		if !r.Matched {
			continue
		}
		for _, c := range r.Candidates {
			if !c.Kept {
				out = append(out, fmt.Sprintf("         dropped %s: %s", c.Provider, dropReason(c)))
			}
		}
	}
	return out
}

func dropReason(c routing.CandidateTrace) string {
	if c.Error != "" {
		return "filter failed: " + c.Error
	}
	var parts []string
	for _, k := range sortedKeys(c.Values) {
		parts = append(parts, fmt.Sprintf("%s=%v", k, c.Values[k]))
	}
	return "filter false with " + strings.Join(parts, " ")
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func list(s []string) string {
	if len(s) == 0 {
		return "[]"
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// Check loads the cases at path, runs them against table and reports to
// w; the error says how many failed, or why the file could not be read.
func Check(ctx context.Context, w io.Writer, table *routing.Table, path string) error {
	cases, err := Load(path)
	if err != nil {
		return err
	}
	if n := Report(w, Run(ctx, table, cases)); n > 0 {
		return fmt.Errorf("%d of %d routing cases in %s failed", n, len(cases), path)
	}
	return nil
}
