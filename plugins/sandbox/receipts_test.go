package sandbox_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/smsrouter/smsrouter/plugins/sandbox"
	"github.com/smsrouter/smsrouter/sdk"
)

// receiptsBy groups receipts per message id.
func receiptsBy(t *testing.T, dir string) map[string][]sandbox.Receipt {
	t.Helper()
	all, err := sandbox.ReadReceipts(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]sandbox.Receipt{}
	for _, r := range all {
		out[r.MessageID] = append(out[r.MessageID], r)
	}
	return out
}

func receiptSettings(dir string, dedupe bool) string {
	return fmt.Sprintf(`{"dlr_delay":"0s","receipts_dir":%q,"dedupe_by_message_id":%t}`, dir, dedupe)
}

func TestReceiptsRecordEveryAcceptance(t *testing.T) {
	dir := t.TempDir()
	p := configured(t, fmt.Sprintf(`{"dlr_delay":"0s","receipts_dir":%q,"reject_numbers":["+491510000001"]}`, dir))
	msgs := messages("msg_rcpt_", 3)
	results, err := p.Send(t.Context(), msgs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Send(t.Context(), msgs[:1]); err != nil { // a resend this process remembers
		t.Fatal(err)
	}
	got := receiptsBy(t, dir)
	if len(got) != 2 {
		t.Fatalf("receipts for %d messages, want 2 (the rejected one has none): %v", len(got), got)
	}
	first := got["msg_rcpt_00000"]
	if len(first) != 2 || first[0].Repeat || !first[1].Repeat ||
		first[0].ProviderMessageID != results[0].ProviderMessageID || first[1].ProviderMessageID != results[0].ProviderMessageID {
		t.Errorf("receipts of the resent message %+v; want the acceptance, then a repeat, both as %s", first, results[0].ProviderMessageID)
	}
	if r := got["msg_rcpt_00002"]; len(r) != 1 || r[0].Repeat || r[0].PID != os.Getpid() || r[0].AcceptedAt.IsZero() {
		t.Errorf("receipts of an accepted message %+v", r)
	}
}

func TestReceiptsOfSeveralProcessesWithoutDedupeShowResends(t *testing.T) {
	dir := t.TempDir()
	a, b := configured(t, receiptSettings(dir, false)), configured(t, receiptSettings(dir, false))
	msg := messages("msg_twice_", 1)
	if _, err := a.Send(t.Context(), msg); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Send(t.Context(), msg); err != nil {
		t.Fatal(err)
	}
	got := receiptsBy(t, dir)["msg_twice_00000"]
	if len(got) != 2 || got[0].Repeat || got[1].Repeat {
		t.Fatalf("receipts %+v; want two first acceptances: without dedupe a second process sends again", got)
	}
}

func TestDedupeByMessageIDAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	a, b := configured(t, receiptSettings(dir, true)), configured(t, receiptSettings(dir, true))
	msgs := messages("msg_dedupe_", 200)

	// Both "processes" send every message at once, in different orders.
	answers := make([][]sdk.SendResult, 2)
	var wg sync.WaitGroup
	for i, p := range []*sandbox.Provider{a, b} {
		wg.Go(func() {
			batch := append([]sdk.Message(nil), msgs...)
			if i == 1 {
				for l, r := 0, len(batch)-1; l < r; l, r = l+1, r-1 {
					batch[l], batch[r] = batch[r], batch[l]
				}
			}
			for start := 0; start < len(batch); start += 10 {
				res, err := p.Send(t.Context(), batch[start:start+10])
				if err != nil {
					t.Error(err)
					return
				}
				answers[i] = append(answers[i], res...)
			}
		})
	}
	wg.Wait()
	byMsg := map[string]map[string]bool{}
	for _, res := range answers {
		for _, r := range res {
			if r.Outcome != sdk.Accepted {
				t.Fatalf("%+v not accepted", r)
			}
			if byMsg[r.MessageID] == nil {
				byMsg[r.MessageID] = map[string]bool{}
			}
			byMsg[r.MessageID][r.ProviderMessageID] = true
		}
	}
	receipts := receiptsBy(t, dir)
	for _, m := range msgs {
		if len(byMsg[m.ID]) != 1 {
			t.Errorf("message %s answered with provider ids %v; want one", m.ID, byMsg[m.ID])
		}
		firsts := 0
		for _, r := range receipts[m.ID] {
			if !r.Repeat {
				firsts++
			}
			if !byMsg[m.ID][r.ProviderMessageID] {
				t.Errorf("receipt %+v names a provider id neither answer gave", r)
			}
		}
		if firsts != 1 || len(receipts[m.ID]) != 2 {
			t.Errorf("message %s has receipts %+v; want one acceptance and one repeat", m.ID, receipts[m.ID])
		}
	}
}

func TestDedupeReportsAMessageAcceptedByAGoneProcess(t *testing.T) {
	dir := t.TempDir()
	a := sandbox.New()
	if err := a.Configure(t.Context(), sdk.Config{Name: "sbx-test", Settings: []byte(receiptSettings(dir, true)), Logger: hclog.NewNullLogger()}); err != nil {
		t.Fatal(err)
	}
	msg := messages("msg_gone_", 1)
	first, err := a.Send(t.Context(), msg)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(t.Context()); err != nil { // gone before it reported
		t.Fatal(err)
	}
	b := configured(t, receiptSettings(dir, true))
	again, err := b.Send(t.Context(), msg)
	if err != nil {
		t.Fatal(err)
	}
	if again[0].ProviderMessageID != first[0].ProviderMessageID {
		t.Fatalf("resend got %s, first acceptance %s; want the first id again", again[0].ProviderMessageID, first[0].ProviderMessageID)
	}
	evs := collectEvents(t, b, 1, nil)
	if len(evs) != 1 || evs[0].Status.ProviderMessageID != first[0].ProviderMessageID {
		t.Errorf("events %+v; want the report of %s", evs, first[0].ProviderMessageID)
	}
}

func TestReadReceiptsSkipsATornLastLine(t *testing.T) {
	dir := t.TempDir()
	p := configured(t, receiptSettings(dir, false))
	if _, err := p.Send(t.Context(), messages("msg_torn_", 2)); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "receipts-*.jsonl"))
	if len(files) != 1 {
		t.Fatalf("receipt files %v; want one per process", files)
	}
	f, err := os.OpenFile(files[0], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`{"message_id":"msg_torn_`)
	_ = f.Close()
	got, err := sandbox.ReadReceipts(dir)
	if err != nil || len(got) != 2 {
		t.Fatalf("ReadReceipts = %d receipts, %v; want the 2 whole ones", len(got), err)
	}
}
