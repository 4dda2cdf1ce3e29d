package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// The devices and providers commands act on the running server through
// the admin API, like outbox: phones, modem ports and tunables live in its
// plugin processes, not in the database.

// adminTarget is where and as whom an admin command calls the running server.
type adminTarget struct {
	base, key string
}

// adminFlags adds --config and --url to fs; resolve reads them and the key.
func adminFlags(fs *flag.FlagSet) func() (adminTarget, error) {
	cfgPath := fs.String("config", "", "config of the running server; its public_url is where to ask (default: the embedded default)")
	serverURL := fs.String("url", "", "the server's URL, instead of the config's public_url")
	return func() (adminTarget, error) {
		key := os.Getenv(outboxKeyEnv)
		if key == "" {
			return adminTarget{}, fmt.Errorf("set %s to an API key with the system_admin permission (smsrouter keys create --name ops --perm system_admin)", outboxKeyEnv)
		}
		base := *serverURL
		if base == "" {
			cfg, err := loadConfig(*cfgPath)
			if err != nil {
				return adminTarget{}, err
			}
			base = cfg.Server.PublicURL
		}
		return adminTarget{base: strings.TrimRight(base, "/"), key: key}, nil
	}
}

// parseInterspersed parses args with fs, allowing flags after the
// positional arguments as the usage lines write them ("providers tune NAME
// health=down --config FILE"); the flag package alone stops at the first
// positional one and would take "--config" for a change. It returns the
// positional arguments in order.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// call sends one admin request and returns the body of a 200 answer; any
// other answer becomes an error quoting the server's.
func (a adminTarget) call(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	u := a.base + path
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("request to %s: %w", u, err)
	}
	req.Header.Set("Authorization", "Bearer "+a.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ask the server at %s (is it running? --url or the config's public_url say where): %w", a.base, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read the answer of %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(out, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(out))
		}
		return nil, fmt.Errorf("%s %s answered HTTP %d: %s", method, u, resp.StatusCode, e.Error)
	}
	return out, nil
}

func devicesCmd(ctx context.Context, sub string, args []string, stdout io.Writer) error {
	switch sub {
	case "list":
		return devicesListCmd(ctx, args, stdout)
	case "revoke":
		return devicesRevokeCmd(ctx, args, stdout)
	}
	return fmt.Errorf("unknown subcommand %q; want list or revoke (smsrouter devices --help)", sub)
}

func devicesListCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("devices list")
	target := adminFlags(fs)
	provider := fs.String("provider", "", "only this provider's devices")
	asJSON := fs.Bool("json", false, "print the devices as JSON, by provider")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q; flags are --provider, --url, --config, --json", fs.Arg(0))
	}
	t, err := target()
	if err != nil {
		return err
	}
	body, err := t.call(ctx, http.MethodGet, "/api/v1/admin/providers", nil)
	if err != nil {
		return err
	}
	var list struct {
		Providers []struct {
			Name    string            `json:"name"`
			Devices []json.RawMessage `json:"devices"`
		} `json:"providers"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return errors.New("the server's providers answer is not the JSON expected: " + err.Error())
	}
	byProvider := map[string][]json.RawMessage{}
	found := false
	for _, p := range list.Providers {
		if *provider == "" || p.Name == *provider {
			found = true
			if len(p.Devices) > 0 {
				byProvider[p.Name] = p.Devices
			}
		}
	}
	if !found && *provider != "" {
		return fmt.Errorf("the server has no provider named %q", *provider)
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(byProvider)
	}
	if len(byProvider) == 0 {
		// An empty table reads as "the phones vanished"; say why it is empty.
		if *provider != "" {
			fmt.Fprintf(stdout, "%s has no phones or modem ports online or registered (only android and modem providers have devices)\n", *provider)
		} else {
			fmt.Fprintln(stdout, "no phones or modem ports: no provider of the server has any (only android and modem providers have devices)")
		}
		return nil
	}
	return printDevices(stdout, byProvider)
}

// listedDevice is what the table shows of a device.
type listedDevice struct {
	ID        string  `json:"id"`
	Name      string  `json:"name"`
	Kind      string  `json:"kind"`
	Online    bool    `json:"online"`
	LastSeen  *string `json:"last_seen"`
	Battery   *int    `json:"battery"`
	InFlight  int     `json:"in_flight"`
	SentToday int     `json:"sent_today"`
	Operator  string  `json:"operator"`
	SIMs      []struct {
		Number   string `json:"number"`
		Operator string `json:"operator"`
	} `json:"sims"`
	Detail string `json:"detail"`
}

func printDevices(stdout io.Writer, byProvider map[string][]json.RawMessage) error {
	names := make([]string, 0, len(byProvider))
	for n := range byProvider {
		names = append(names, n)
	}
	sort.Strings(names)
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROVIDER\tID\tNAME\tKIND\tONLINE\tLAST SEEN\tBATTERY\tIN FLIGHT\tSENT TODAY\tNETWORK\tDETAIL")
	for _, n := range names {
		for _, raw := range byProvider[n] {
			var d listedDevice
			if err := json.Unmarshal(raw, &d); err != nil {
				return fmt.Errorf("a device of %s is not the JSON expected: %w", n, err)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", n, d.ID, d.Name, d.Kind, yesNo(d.Online),
				orDash(d.LastSeen), battery(d.Battery), d.InFlight, d.SentToday, network(d), d.Detail)
		}
	}
	return tw.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orDash(s *string) string {
	if s == nil || *s == "" {
		return "-"
	}
	return *s
}

func battery(b *int) string {
	if b == nil {
		return "-"
	}
	return fmt.Sprintf("%d%%", *b)
}

// network shows a port's operator, or each SIM's number and operator.
func network(d listedDevice) string {
	if len(d.SIMs) == 0 {
		return cmpOr(d.Operator, "-")
	}
	parts := make([]string, len(d.SIMs))
	for i, s := range d.SIMs {
		parts[i] = strings.TrimSpace(cmpOr(s.Number, "?") + " " + s.Operator)
	}
	return strings.Join(parts, ", ")
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func devicesRevokeCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("devices revoke")
	target := adminFlags(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return errors.New("want PROVIDER and DEVICE_ID (smsrouter devices list shows them)")
	}
	t, err := target()
	if err != nil {
		return err
	}
	name, id := pos[0], pos[1]
	if _, err := t.call(ctx, http.MethodDelete, "/api/v1/admin/providers/"+url.PathEscape(name)+"/devices/"+url.PathEscape(id), nil); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "revoked device %s of %s: it must register again before it takes messages\n", id, name)
	return nil
}

func providersCmd(ctx context.Context, sub string, args []string, stdout io.Writer) error {
	if sub != "tune" {
		return fmt.Errorf("unknown subcommand %q; want tune (smsrouter providers --help)", sub)
	}
	fs := newFlags("providers tune")
	target := adminFlags(fs)
	asJSON := fs.Bool("json", false, "print the API's JSON answer")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 1 {
		return errors.New("want NAME and then key=value changes (none: show the tunables)")
	}
	changes := map[string]string{}
	for _, kv := range pos[1:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("change %q is not key=value, e.g. health=down", kv)
		}
		changes[k] = v
	}
	t, err := target()
	if err != nil {
		return err
	}
	body, _ := json.Marshal(changes)
	out, err := t.call(ctx, http.MethodPost, "/api/v1/admin/providers/"+url.PathEscape(pos[0])+"/tune", body)
	if err != nil {
		return err
	}
	if *asJSON {
		_, err := stdout.Write(out)
		return err
	}
	var ans struct {
		Values map[string]string `json:"values"`
	}
	if err := json.Unmarshal(out, &ans); err != nil {
		return errors.New("the server's tune answer is not the JSON expected: " + err.Error())
	}
	keys := make([]string, 0, len(ans.Values))
	for k := range ans.Values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(stdout, "%s=%s\n", k, ans.Values[k])
	}
	return nil
}
