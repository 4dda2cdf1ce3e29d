package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/recordid"
	"github.com/smsrouter/smsrouter/routing"
)

// tagFlags collects repeated --tag k=v flags.
type tagFlags map[string]string

func (t tagFlags) String() string { return "" }

func (t tagFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("want --tag key=value, got %q", v)
	}
	t[k] = val
	return nil
}

// explainAt reads --at: RFC 3339, or a bare HH:MM meaning that time today
// in the routing time zone (what an operator checking quiet hours types).
func explainAt(v string, loc *time.Location, now time.Time) (time.Time, error) {
	var h, m int
	if len(v) == 5 && v[2] == ':' {
		if _, err := fmt.Sscanf(v, "%02d:%02d", &h, &m); err == nil && h < 24 && m < 60 {
			y, mo, d := now.In(loc).Date()
			return time.Date(y, mo, d, h, m, 0, 0, loc), nil
		}
	}
	t, err := routing.ParseAt(v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w, or HH:MM for today in the routing time zone (%s)", err, loc)
	}
	return t, nil
}

// routeExplainCmd shows which route and providers a message would get and
// why, from the config file alone: every provider counts as healthy with
// no balance known (the running server's POST /api/v1/admin/route/explain
// uses live provider state).
func routeExplainCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("route explain")
	cfgPath := fs.String("config", "", "config file (default: the embedded default)")
	to := fs.String("to", "", "recipient in international format, e.g. +959123456789 (required)")
	text := fs.String("text", "", "message text (required)")
	from := fs.String("from", "", "sender ID or number")
	kind := fs.String("kind", "", "message kind: sms (default), otp, transactional, marketing, ...")
	account := fs.String("account", "", "sending account id")
	id := fs.String("id", "", "message id: the weighted strategy draws from it, so the same id always draws the same (default: a new random id each run)")
	at := fs.String("at", "", "decide as if it were this time (RFC 3339, e.g. 2026-12-07T23:10+06:30, or 23:10 for today in the routing time zone); default now")
	asJSON := fs.Bool("json", false, "print the explanation as JSON")
	tags := tagFlags{}
	fs.Var(tags, "tag", "message tag key=value (repeatable)")
	state := whatIfFlags(fs)
	in := inboundFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if in.inbound {
		return explainInbound(stdout, *cfgPath, in, *to, *from, *text, *asJSON)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q; flags are --to, --text, --from, --kind, --account, --tag k=v, --id, --at, --balance, --unhealthy, --success-rate, --json", fs.Arg(0))
	}
	if *to == "" || *text == "" {
		return errors.New("--to and --text are required, e.g. smsrouter route explain --to +959123456789 --text 'Your code is 123456' --kind otp")
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	when, err := explainAt(*at, cfg.Table.Location(), time.Now())
	if err != nil {
		return fmt.Errorf("--at: %w", err)
	}
	var tagMap map[string]string
	if len(tags) > 0 {
		tagMap = tags
	}
	f, err := core.Facts(*account, core.SendRequest{To: *to, Message: *text, From: *from, Kind: message.Kind(*kind), Tags: tagMap})
	if err != nil {
		return err
	}
	f.MessageID = *id
	if f.MessageID == "" {
		// A fresh id each run, as each message has: the recipient would
		// draw the same side of a weighted split every time.
		f.MessageID = recordid.New("msg")
	}
	if err := state.check(cfg.Table.Providers()); err != nil {
		return err
	}
	ex := routing.NewRouter(cfg.Table, nil).ExplainWhatIf(ctx, f, routing.WhatIf{At: when, Providers: state.patches})
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // rules are full of && and >
		if err := enc.Encode(ex); err != nil {
			return fmt.Errorf("write explanation: %w", err)
		}
	} else {
		fmt.Fprint(stdout, ex.Text())
	}
	if ex.Error != "" {
		return errors.New(ex.Error)
	}
	return nil
}
