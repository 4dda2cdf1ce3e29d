package providertest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"

	"github.com/smsrouter/smsrouter/sdk"
)

// HookCase is a request the provider's upstream sends to its hooks and
// what the provider must make of it. Record a real one (a delivery report),
// signed as the upstream signs it for Target.HookURL.
type HookCase struct {
	// Name names the subtest.
	Name string
	// Request is the request as the host hands it to HandleHook.
	Request sdk.HookRequest
	// Status is the status the caller must get; zero means 200.
	Status int
	// Events are the events HandleHook must emit, in order. Fields left
	// zero are not compared (an event's ID, a status event's At).
	Events []sdk.Event
}

// standardHeaders are headers any HTTP client sends; the kit's forgeries
// leave them alone and change the others, where signatures travel.
var standardHeaders = []string{"Accept", "Accept-Encoding", "Accept-Language", "Connection", "Content-Length",
	"Content-Type", "Host", "User-Agent", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"}

func (k *kit) testHooks(t tb) {
	in := k.start(t)
	k.configure(t, in)
	if !in.caps.Hooks {
		if len(k.Hooks) > 0 {
			t.Errorf("Target.Hooks has %d cases but the provider does not implement sdk.HookHandler", len(k.Hooks))
		}
		t.Skipf("the provider takes no hooks")
	}
	if len(k.Hooks) == 0 {
		t.Fatalf("the provider implements sdk.HookHandler but Target.Hooks is empty; record at least one request its upstream sends (a delivery report) with the events it must produce")
	}
	hh := in.p.(sdk.HookHandler)
	for _, c := range k.Hooks {
		t.Run(c.Name, func(t tb) {
			k.checkRecorded(t, hh, c)
			if len(c.Events) > 0 {
				k.checkForged(t, hh, c)
			}
			checkOdd(t, hh, c)
		})
	}
}

// hook runs one request through HandleHook with a fresh response.
func hook(t tb, hh sdk.HookHandler, req sdk.HookRequest) hookResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	defer cancel()
	req.Header = req.Header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Body = slices.Clone(req.Body)
	return handleHook(ctx, t, hh, &req, httptest.NewRecorder(), nil)
}

// checkRecorded sends the recorded request twice: the answer and events
// must be as the case says, emitted before the response, with the same
// event ids both times so the host can drop the repeat.
func (k *kit) checkRecorded(t tb, hh sdk.HookHandler, c HookCase) {
	t.Helper()
	want := c.Status
	if want == 0 {
		want = http.StatusOK
	}
	var first []string
	for try := range 2 {
		res := hook(t, hh, c.Request)
		if res.panicked {
			return
		}
		if res.status != want {
			t.Errorf("hook %s %s answered %d (HandleHook error: %v); want %d", c.Request.Method, c.Request.Path, res.status, res.err, want)
		}
		if res.late > 0 {
			t.Errorf("hook %s %s: %d events emitted after the response started; emit every event before the first Write or WriteHeader, so the host stores it before the caller hears success", c.Request.Method, c.Request.Path, res.late)
		}
		for _, ev := range res.events {
			checkEvent(t, ev)
		}
		if why := matchEvents(c.Events, res.events); why != "" {
			t.Errorf("hook %s %s: %s", c.Request.Method, c.Request.Path, why)
			return
		}
		ids := eventIDs(res.events)
		if try == 0 {
			first = ids
		} else if !slices.Equal(first, ids) {
			t.Errorf("the same hook request emitted events %q, then %q; an event's ID must be the same when the upstream repeats a callback, so the host drops the repeat", first, ids)
		}
	}
}

// checkForged sends the request as a caller without the secret could: the
// provider must refuse it with a 4xx and emit nothing.
func (k *kit) checkForged(t tb, hh sdk.HookHandler, c HookCase) {
	t.Helper()
	forgeries := k.forgeries(c.Request)
	if len(forgeries) == 0 {
		t.Errorf("cannot forge hook %s %s: it carries no header or query parameter beyond the standard ones, so no signature; a hook that emits events must check its caller (set Target.Forge if the signature is in the body)", c.Request.Method, c.Request.Path)
	}
	for _, f := range forgeries {
		res := hook(t, hh, f.req)
		switch {
		case res.panicked:
		case len(res.events) > 0:
			t.Errorf("hook %s %s %s was taken: it emitted %d events; the provider must verify the caller's signature and refuse it", c.Request.Method, c.Request.Path, f.how, len(res.events))
		case res.status < 400 || res.status > 499:
			t.Errorf("hook %s %s %s answered %d; want a 4xx refusal (401 or 403)", c.Request.Method, c.Request.Path, f.how, res.status)
		}
	}
}

type forgery struct {
	how string
	req sdk.HookRequest
}

func (k *kit) forgeries(req sdk.HookRequest) []forgery {
	if k.Forge != nil {
		f := cloneRequest(req)
		k.Forge(&f)
		return []forgery{{"forged by Target.Forge", f}}
	}
	stripped, altered := cloneRequest(req), cloneRequest(req)
	changed := false
	for name := range req.Header {
		if slices.Contains(standardHeaders, http.CanonicalHeaderKey(name)) {
			continue
		}
		changed = true
		stripped.Header.Del(name)
		for i, v := range altered.Header[name] {
			altered.Header[name][i] = alter(v)
		}
	}
	if u, err := url.Parse(req.URL); err == nil && u.RawQuery != "" {
		changed = true
		q := u.Query()
		u.RawQuery = ""
		stripped.URL = u.String()
		for _, vs := range q {
			for i, v := range vs {
				vs[i] = alter(v)
			}
		}
		u.RawQuery = q.Encode()
		altered.URL = u.String()
	}
	if !changed {
		return nil
	}
	return []forgery{{"without its signature headers and query", stripped}, {"with its signature headers and query altered", altered}}
}

// alter changes one character in the middle of v to another of its kind,
// so a signature keeps its format but no longer matches.
func alter(v string) string {
	b := []byte(v)
	for i := len(b) / 2; i < len(b); i++ {
		switch c := b[i]; {
		case c >= '0' && c <= '9':
			b[i] = '0' + (c-'0'+1)%10
		case c >= 'a' && c <= 'z':
			b[i] = 'a' + (c-'a'+1)%26
		case c >= 'A' && c <= 'Z':
			b[i] = 'A' + (c-'A'+1)%26
		default:
			continue
		}
		return string(b)
	}
	return v + "x"
}

func cloneRequest(req sdk.HookRequest) sdk.HookRequest {
	req.Header = req.Header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Body = slices.Clone(req.Body)
	return req
}

// checkOdd sends requests a careless handler trips over: no body, half a
// body, an unknown path. None may panic or emit anything.
func checkOdd(t tb, hh sdk.HookHandler, c HookCase) {
	t.Helper()
	empty, half, unknown := cloneRequest(c.Request), cloneRequest(c.Request), cloneRequest(c.Request)
	empty.Body = nil
	half.Body = half.Body[:len(half.Body)/2]
	unknown.Path = "/providertest-unknown" + c.Request.Path
	if u, err := url.Parse(c.Request.URL); err == nil {
		u.Path = strings.TrimSuffix(u.Path, c.Request.Path) + unknown.Path
		unknown.URL = u.String()
	}
	for _, odd := range []forgery{{"with an empty body", empty}, {"with half its body", half}, {"to an unknown path", unknown}} {
		res := hook(t, hh, odd.req)
		if !res.panicked && len(res.events) > 0 {
			t.Errorf("hook %s %s %s emitted %d events; want none", c.Request.Method, c.Request.Path, odd.how, len(res.events))
		}
	}
}

func eventIDs(evs []sdk.Event) []string {
	ids := make([]string, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID
	}
	return ids
}

// matchEvents returns why got differs from want, or "".
func matchEvents(want, got []sdk.Event) string {
	if len(got) != len(want) {
		return fmt.Sprintf("emitted %d events %s; want %d %s", len(got), describeEvents(got), len(want), describeEvents(want))
	}
	for i := range want {
		if !eventMatches(want[i], got[i]) {
			return fmt.Sprintf("event %d is %s; want %s", i, describeEvent(got[i]), describeEvent(want[i]))
		}
	}
	return ""
}

func eventMatches(want, got sdk.Event) bool {
	if want.ID != "" && want.ID != got.ID {
		return false
	}
	switch {
	case want.Status != nil:
		w, g := want.Status, got.Status
		return g != nil && w.ProviderMessageID == g.ProviderMessageID && w.Status == g.Status &&
			same(w.ProviderStatus, g.ProviderStatus) && same(w.ErrorCode, g.ErrorCode) && same(w.Recipient, g.Recipient) &&
			(w.At.IsZero() || w.At.Equal(g.At))
	case want.Inbound != nil:
		w, g := want.Inbound, got.Inbound
		return g != nil && w.From == g.From && w.To == g.To && w.Text == g.Text && same(w.ProviderMessageID, g.ProviderMessageID) &&
			(w.At.IsZero() || w.At.Equal(g.At))
	}
	return got.Status == nil && got.Inbound == nil
}

// same compares a field the case may leave empty.
func same(want, got string) bool { return want == "" || want == got }

func describeEvents(evs []sdk.Event) string {
	parts := make([]string, len(evs))
	for i, ev := range evs {
		parts[i] = describeEvent(ev)
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

func describeEvent(ev sdk.Event) string {
	switch {
	case ev.Status != nil:
		return fmt.Sprintf("status %+v (id %q)", *ev.Status, ev.ID)
	case ev.Inbound != nil:
		return fmt.Sprintf("inbound %+v (id %q)", *ev.Inbound, ev.ID)
	}
	return "empty"
}
