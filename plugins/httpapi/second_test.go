package httpapi_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/plugins/httpapi"
	"github.com/smsrouter/smsrouter/sdk"
)

// acme is a second aggregator with a different JSON shape: a list of
// {to, from, text, ref} per request, answers keyed by our reference, errors
// per message, status by GET with a query string. docs/httpapi.md shows the
// config in testdata/second_aggregator.json; this test proves it needs no Go.
type acme struct {
	mu       sync.Mutex
	next     int
	statuses map[string]string
	ttls     map[string]int // our reference → ttl sent, when one was
}

func (a *acme) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("X-API-Key") != "acme-key" {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":{"code":"AUTH","description":"bad key"}}`)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v2/sms":
		var req struct {
			Messages []struct {
				To, From, Text, Ref string
				TTL                 *int
			}
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":{"code":"BAD_JSON","description":%q}}`, err.Error())
			return
		}
		var results []map[string]any
		for _, m := range req.Messages {
			if m.TTL != nil {
				a.ttls[m.Ref] = *m.TTL
			}
			if strings.HasSuffix(m.To, "0000") {
				results = append(results, map[string]any{"ref": m.Ref, "error": map[string]string{"code": "E21", "description": "number is blocked"}})
				continue
			}
			a.next++
			id := fmt.Sprintf("acme-%d", a.next)
			a.statuses[id] = "DELIVERED"
			results = append(results, map[string]any{"ref": m.Ref, "message_id": id, "status": "accepted"})
		}
		// Answer in reverse order: matching is by our reference, not position.
		for i, j := 0, len(results)-1; i < j; i, j = i+1, j-1 {
			results[i], results[j] = results[j], results[i]
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"results": results})
	case r.Method == http.MethodGet && r.URL.Path == "/v2/sms/status":
		var out []map[string]any
		for _, id := range strings.Split(r.URL.Query().Get("ids"), ",") {
			if st, ok := a.statuses[id]; ok {
				out = append(out, map[string]any{"message_id": id, "state": st, "err": nil})
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"statuses": out})
	case r.Method == http.MethodGet && r.URL.Path == "/v2/account":
		fmt.Fprint(w, `{"account":{"credit":"12.50","currency":"EUR"}}`)
	default:
		http.NotFound(w, r)
	}
}

func TestSecondAggregatorByConfigOnly(t *testing.T) {
	upstream := &acme{statuses: map[string]string{}, ttls: map[string]int{}}
	srv := httptest.NewServer(upstream)
	t.Cleanup(srv.Close)
	raw, err := os.ReadFile(filepath.Join("testdata", "second_aggregator.json"))
	if err != nil {
		t.Fatal(err)
	}
	var settings map[string]any
	if err := json.Unmarshal(raw, &settings); err != nil {
		t.Fatal(err)
	}
	settings["base_url"] = srv.URL
	doc, _ := json.Marshal(settings)
	p := provider(t, doc)

	caps := sdk.CapabilitiesOf(p)
	if caps.MaxBatchSize != 50 || !caps.StatusQuery || !caps.Balance || caps.SenderIDs {
		t.Errorf("capabilities = %+v", caps)
	}
	ms := []sdk.Message{
		{ID: "msg_a", To: "+14155550100", Text: `He said "hi" & left`, ValidUntil: time.Now().Add(time.Hour)},
		{ID: "msg_b", To: "+14155550000", Text: "blocked"},
		{ID: "msg_c", To: "+14155550100", From: "Other", Text: "second to the same phone"},
		{ID: "msg_d", To: "+14155550101", Text: "too late", ValidUntil: time.Now().Add(-time.Minute)},
	}
	res, err := p.Send(t.Context(), ms)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Outcome != sdk.Accepted || res[2].Outcome != sdk.Accepted || res[0].ProviderMessageID == res[2].ProviderMessageID {
		t.Fatalf("results %+v; want msg_a and msg_c accepted with their own ids", res)
	}
	if res[1].Outcome != sdk.Permanent || res[1].Code != "E21" || !strings.Contains(res[1].Reason, "blocked") {
		t.Errorf("blocked number: %+v, want Permanent E21", res[1])
	}
	if res[3].Outcome != sdk.OutcomeExpired || res[3].Code != "EXPIRED" {
		t.Errorf("message past its validity: %+v, want expired (EXPIRED)", res[3])
	}
	upstream.mu.Lock()
	ttls := maps.Clone(upstream.ttls)
	upstream.mu.Unlock()
	// The ttl is what is left of the hour when the request is made.
	if ttl, ok := ttls["msg_a"]; !ok || ttl < 3600-60 || ttl > 3600 || len(ttls) != 1 {
		t.Errorf("ttls sent %v, want about 3600 for msg_a only (msg_c has no validity, msg_d is not sent)", ttls)
	}
	evs, err := p.QueryStatus(t.Context(), []string{res[0].ProviderMessageID, res[2].ProviderMessageID, "acme-unknown"})
	if err != nil || len(evs) != 2 || evs[0].Status != sdk.StatusDelivered || evs[1].Status != sdk.StatusDelivered {
		t.Errorf("QueryStatus = %+v, %v", evs, err)
	}
	if b, err := p.Balance(t.Context()); err != nil || b != (sdk.Balance{Amount: 12.5, Currency: "EUR"}) {
		t.Errorf("Balance = %+v, %v", b, err)
	}
	if _, err := p.SenderIDs(t.Context()); err == nil {
		t.Error("SenderIDs without a sender_ids operation succeeded")
	}
	if got := strings.Join(httpapi.PresetNames(), ","); got != "aggregator002,aggregator002_xml" {
		t.Errorf("presets = %s", got)
	}
}
