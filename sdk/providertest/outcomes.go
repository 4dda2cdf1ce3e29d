package providertest

import (
	"context"
	"net/http"
	"time"

	"github.com/smsrouter/smsrouter/sdk"
)

// outcomeCase is one kind of upstream answer and the result it must become.
type outcomeCase struct {
	name   string
	script script
	check  func(t tb, f *fakeUpstream, r sendResult)
}

func outcomeCases() []outcomeCase {
	return []outcomeCase{
		{"Accepted", scriptAccept, checkAccepted},
		{"Refused", script{status: http.StatusBadRequest}, checkRefused},
		{"Throttled", script{status: http.StatusTooManyRequests, retryAfter: "7"}, checkThrottled(7*time.Second, time.Second)},
		{"ThrottledUntil", script{status: http.StatusTooManyRequests, retryAt: 40 * time.Second}, checkThrottled(40*time.Second, 3*time.Second)},
		{"Unavailable", script{status: http.StatusServiceUnavailable}, checkUnavailable},
		{"CredentialsRefused", script{status: http.StatusUnauthorized}, checkAccountError},
	}
}

// testUpstream checks how each kind of answer of the upstream becomes a
// result, that a slow upstream is given up on when Send's context ends,
// and what the other capabilities make of a failing upstream. Each check
// has a provider of its own: one that remembers a 429 and holds back
// (rightly) must not spoil the next.
func (k *kit) testUpstream(t tb) {
	for _, c := range outcomeCases() {
		t.Run(c.name, func(t tb) {
			in := k.start(t)
			k.configure(t, in)
			in.upstream.set(c.script)
			one := k.Messages(1)
			r := send(t, in.p, one)
			if r.err == nil {
				checkResults(t, one, r.results)
			}
			c.check(t, in.upstream, r)
		})
	}
	t.Run("Failing", func(t tb) {
		in := k.start(t)
		k.configure(t, in)
		checkFailingUpstream(t, in)
	})
	t.Run("Slow", func(t tb) {
		in := k.start(t)
		k.configure(t, in)
		checkSlow(t, in, k.Messages(1))
	})
}

func checkAccepted(t tb, f *fakeUpstream, r sendResult) {
	switch {
	case r.err != nil:
		t.Errorf("the upstream took the message, but Send failed: %v", r.err)
	case r.results[0].Outcome != sdk.Accepted:
		t.Errorf("the upstream took the message, but the result is %s (%s)", r.results[0].Outcome, r.results[0].Reason)
	case !f.handedOut(r.results[0].ProviderMessageID):
		t.Errorf("result has ProviderMessageID %q, which the upstream never gave; it must be the upstream's id for the message, or status reports cannot be matched", r.results[0].ProviderMessageID)
	}
}

func checkRefused(t tb, _ *fakeUpstream, r sendResult) {
	switch {
	case r.err != nil:
		t.Errorf("the upstream refused the message (HTTP 400), but Send failed as a whole: %v; refuse the message with a Permanent result", r.err)
	case r.results[0].Outcome != sdk.Permanent:
		t.Errorf("the upstream refused the message (HTTP 400), but the result is %s; want Permanent", r.results[0].Outcome)
	}
}

func checkThrottled(want, slack time.Duration) func(tb, *fakeUpstream, sendResult) {
	return func(t tb, _ *fakeUpstream, r sendResult) {
		if r.err != nil {
			t.Errorf("the upstream throttled the message (HTTP 429), but Send failed as a whole: %v; answer a Temporary result with RetryAfter", r.err)
			return
		}
		res := r.results[0]
		switch {
		case !retriedNow(res.Outcome):
			t.Errorf("the upstream throttled the message (HTTP 429), but the result is %s; want Temporary (sdk.RetryAfter), so the host tries again", res.Outcome)
		case res.RetryAfter < want-slack || res.RetryAfter > want+slack:
			t.Errorf("the upstream asked for a wait of %s (Retry-After), but the result's RetryAfter is %s", want, res.RetryAfter)
		}
	}
}

func checkUnavailable(t tb, _ *fakeUpstream, r sendResult) {
	if r.err == nil && !retriedNow(r.results[0].Outcome) {
		t.Errorf("the upstream was unavailable (HTTP 503), but the result is %s; want Temporary or sdk.Unavailable (or Send failing as a whole)", r.results[0].Outcome)
	}
}

func checkAccountError(t tb, _ *fakeUpstream, r sendResult) {
	switch {
	case r.err != nil:
		t.Errorf("the upstream refused the credentials (HTTP 401), but Send failed as a whole: %v; answer sdk.AccountError, so the host fails over and reports the provider unhealthy", r.err)
	case r.results[0].Outcome != sdk.OutcomeAccountError:
		t.Errorf("the upstream refused the credentials (HTTP 401), but the result is %s; want sdk.AccountError: the message is fine, the account is not", r.results[0].Outcome)
	}
}

// checkFailingUpstream checks that the other capabilities say so when the
// upstream fails, instead of a working link, a zero balance, no senders or
// no news about messages.
func checkFailingUpstream(t tb, in *instance) {
	in.upstream.set(script{status: http.StatusServiceUnavailable})
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	defer cancel()
	const failing = "with the upstream answering 503"
	if in.caps.Health {
		guard(t, "Health", func() {
			if h, err := in.p.(sdk.HealthChecker).Health(ctx); err == nil && h.OK {
				t.Errorf("Health %s reports OK (%s); want not OK", failing, h.Detail)
			}
		})
	}
	if in.caps.Balance {
		guard(t, "Balance", func() {
			if b, err := in.p.(sdk.BalanceReporter).Balance(ctx); err == nil {
				t.Errorf("Balance %s returned %+v; want an error", failing, b)
			}
		})
	}
	if in.caps.SenderIDs {
		guard(t, "SenderIDs", func() {
			if ids, err := in.p.(sdk.SenderIDLister).SenderIDs(ctx); err == nil {
				t.Errorf("SenderIDs %s returned %+v; want an error, not a list the host takes for the account's", failing, ids)
			}
		})
	}
	if in.caps.StatusQuery {
		guard(t, "QueryStatus", func() {
			if evs, err := in.p.(sdk.StatusQuerier).QueryStatus(ctx, []string{"up-000001"}); err == nil {
				t.Errorf("QueryStatus %s returned %+v; want an error, not an answer that the upstream knows nothing", failing, evs)
			}
		})
	}
}

// checkSlow holds the provider's request until Send's context is
// cancelled: Send must then return promptly, and the request must be
// cancelled too, not left to the HTTP client's timeout.
func checkSlow(t tb, in *instance, msgs []sdk.Message) {
	in.upstream.set(script{hang: true})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	answer := sendAsync(ctx, t, in.p, msgs)
	select {
	case <-in.upstream.held:
	case r := <-answer:
		t.Fatalf("Send returned (%v, %+v) without calling the upstream", r.err, r.results)
	case <-time.After(promptTimeout):
		t.Fatalf("Send did not call the upstream within %s", promptTimeout)
	}
	cancel()
	select {
	case r := <-answer:
		if r.err == nil && !r.panicked && len(r.results) == len(msgs) && !retriedNow(r.results[0].Outcome) {
			t.Errorf("Send cancelled while the upstream was slow answered %s; want Temporary or an error", r.results[0].Outcome)
		}
	case <-time.After(promptTimeout):
		t.Errorf("Send did not return within %s after its context was cancelled while the upstream was slow; make every request with http.NewRequestWithContext(ctx, ...)", promptTimeout)
	}
	select {
	case <-in.upstream.dropped:
	case <-time.After(promptTimeout):
		t.Errorf("the request to the upstream was still open %s after Send's context was cancelled; make every request with http.NewRequestWithContext(ctx, ...)", promptTimeout)
	}
}
