package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsrouter/smsrouter/core/inbound"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/routing"
)

// A reload hands the store the inbound numbers' owners of the new api
// block and the new inbound rules: a number moved to another account in
// the file has its next inbound message stored for that account.
func TestReloadMovesInboundNumbers(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "smsrouter.hcl")
	writeOwners := func(owner string, extra ...string) {
		t.Helper()
		src := `database {
  driver = "sqlite"
  path   = "smsrouter.db"
}
api {
  account_sender_ids = { ` + owner + ` = ["+1 415 555 0100"] }
}
provider "sandbox" {
  plugin = "sandbox"
}
route "default" {
  default    = true
  candidates = ["sandbox"]
}
` + strings.Join(extra, "\n")
		if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeOwners("acme")
	cfg, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := openStore(ctx, cfg, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, name := range []string{"first", "acme", "globex"} {
		if _, err := st.CreateAccount(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	log := hclog.NewNullLogger()
	st.SetInboundOwners(inboundOwners(cfg.API, log))
	r := newReloader(path, cfg, routing.NewRouter(cfg.Table, nil), log)
	r.setInboundOwners = st.SetInboundOwners
	r.setInboundRules = st.SetInboundRules

	// ownerOf stores an inbound message to the number and says which
	// account it was stored for.
	ownerOf := func(id string) string {
		t.Helper()
		ev := message.Event{ID: id, Inbound: &inbound.Message{ProviderMessageID: id, Sender: "+14155550199", Recipient: "+14155550100",
			Text: "YES", ReceivedAt: time.Now()}}
		if err := st.StoreEvents(ctx, "sandbox", []message.Event{ev}); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"first", "acme", "globex"} {
			acc, err := st.AccountByName(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := st.ListInbound(ctx, acc.ID, inbound.Filter{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range got {
				if m.ProviderMessageID == id {
					return name
				}
			}
		}
		return ""
	}
	if got := ownerOf("mo-1"); got != "acme" {
		t.Fatalf("inbound message before the reload stored for %q, want acme", got)
	}
	writeOwners("globex")
	if err := r.Reload(ctx); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if got := ownerOf("mo-2"); got != "globex" {
		t.Errorf("inbound message after moving the number to globex and reloading stored for %q", got)
	}
	// An inbound rule added by a reload comes before the sender IDs.
	writeOwners("globex", `inbound "yes" {
  match   = "keyword == 'YES'"
  account = "first"
}`)
	if err := r.Reload(ctx); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if got := ownerOf("mo-3"); got != "first" {
		t.Errorf("inbound message after adding an inbound rule for first stored for %q", got)
	}
}

// A reload warns about an inbound rule naming an account that does not
// exist (its messages would be kept for admins only, silently).
func TestReloadWarnsOfUnknownInboundAccount(t *testing.T) {
	path := filepath.Join(t.TempDir(), "smsrouter.hcl")
	src := `provider "sandbox" {
  plugin = "sandbox"
}
route "default" {
  default    = true
  candidates = ["sandbox"]
}
inbound "bank" {
  match   = "from startsWith 'KBZ'"
  account = "bnak"
}
inbound "support" {
  match   = "true"
  account = "support"
}
`
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	log := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Warn})
	r := newReloader(path, cfg, routing.NewRouter(cfg.Table, nil), log)
	r.accountExists = func(_ context.Context, name string) (bool, error) { return name == "support", nil }
	if err := r.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := logs.String(); !strings.Contains(got, "inbound rule names an account that does not exist") ||
		!strings.Contains(got, "rule=bank account=bnak") || strings.Contains(got, "account=support") {
		t.Errorf("reload log:\n%s\nwant one warning, for rule bank's account bnak", got)
	}
}
