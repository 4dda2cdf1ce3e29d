package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// outboxKeyEnv names the environment variable holding the system_admin key the
// outbox command uses: a key on the command line would show in ps and in
// shell history.
const outboxKeyEnv = "SMSROUTER_API_KEY"

// outboxCmd prints a sandbox provider's outbox, read from a running server
// through the admin API: the messages live in that server's plugin process,
// not in the database.
func outboxCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("outbox")
	cfgPath := fs.String("config", "", "config of the running server; its public_url is where to ask (default: the embedded default)")
	serverURL := fs.String("url", "", "the server's URL, instead of the config's public_url")
	provider := fs.String("provider", "sandbox", "the sandbox provider whose outbox to show")
	limit := fs.Int("limit", 20, "most messages to show, newest first (1 to 10000)")
	asJSON := fs.Bool("json", false, "print the API's JSON answer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q; flags are --provider, --limit, --url, --config, --json", fs.Arg(0))
	}
	key := os.Getenv(outboxKeyEnv)
	if key == "" {
		return fmt.Errorf("set %s to an API key with the system_admin permission (smsrouter keys create --name outbox --perm system_admin)", outboxKeyEnv)
	}
	base := *serverURL
	if base == "" {
		cfg, err := loadConfig(*cfgPath)
		if err != nil {
			return err
		}
		base = cfg.Server.PublicURL
	}
	body, err := fetchOutbox(ctx, base, *provider, *limit, key)
	if err != nil {
		return err
	}
	if *asJSON {
		_, err := stdout.Write(body)
		return err
	}
	return printOutbox(stdout, body)
}

// fetchOutbox asks GET /api/v1/admin/providers/NAME/outbox.
func fetchOutbox(ctx context.Context, base, provider string, limit int, key string) ([]byte, error) {
	t := adminTarget{base: strings.TrimRight(base, "/"), key: key}
	return t.call(ctx, http.MethodGet, "/api/v1/admin/providers/"+url.PathEscape(provider)+"/outbox?limit="+fmt.Sprint(limit), nil)
}

func printOutbox(stdout io.Writer, body []byte) error {
	var out struct {
		Messages []struct {
			MessageID string    `json:"message_id"`
			To        string    `json:"to"`
			From      string    `json:"from"`
			Text      string    `json:"text"`
			Kind      string    `json:"kind"`
			SentAt    time.Time `json:"sent_at"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return errors.New("the server's outbox answer is not the JSON expected: " + err.Error())
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SENT AT\tTO\tFROM\tKIND\tMESSAGE ID\tTEXT")
	for _, m := range out.Messages {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", m.SentAt.UTC().Format(time.RFC3339), m.To, m.From, m.Kind, m.MessageID,
			strings.Join(strings.Fields(m.Text), " "))
	}
	return tw.Flush()
}
