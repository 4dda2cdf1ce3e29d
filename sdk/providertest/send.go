package providertest

import (
	"context"
	"strings"
	"time"

	"github.com/smsrouter/smsrouter/sdk"
)

func (k *kit) batch(t tb, in *instance) []sdk.Message {
	t.Helper()
	n := min(in.caps.MaxBatchSize, maxCheckedBatch)
	msgs := k.Messages(n)
	if len(msgs) != n {
		t.Fatalf("Target.Messages(%d) returned %d messages", n, len(msgs))
	}
	return msgs
}

// sendResult is what a Send call run under a deadline produced.
type sendResult struct {
	results  []sdk.SendResult
	err      error
	panicked bool
}

// sendAsync runs Send in a goroutine; the channel yields its answer.
func sendAsync(ctx context.Context, t tb, p sdk.Provider, msgs []sdk.Message) <-chan sendResult {
	done := make(chan sendResult, 1)
	go func() {
		var r sendResult
		r.panicked = guard(t, "Send", func() { r.results, r.err = p.Send(ctx, msgs) })
		done <- r
	}()
	return done
}

// sendWithin runs Send and waits at most limit for it; ok is false when it
// did not return in time.
func sendWithin(ctx context.Context, t tb, p sdk.Provider, msgs []sdk.Message, limit time.Duration) (sendResult, bool) {
	select {
	case r := <-sendAsync(ctx, t, p, msgs):
		return r, true
	case <-time.After(limit):
		return sendResult{}, false
	}
}

// send runs Send under callTimeout and fails the test if it does not
// return or panics.
func send(t tb, p sdk.Provider, msgs []sdk.Message) sendResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	defer cancel()
	r, ok := sendWithin(ctx, t, p, msgs, callTimeout+promptTimeout)
	if !ok {
		t.Fatalf("Send of %d messages did not return within %s, even after its context expired", len(msgs), callTimeout+promptTimeout)
	}
	if r.panicked {
		t.FailNow()
	}
	return r
}

// sendBatch sends a valid batch and checks the results; it returns the
// provider ids of the accepted messages.
func (k *kit) sendBatch(t tb, in *instance) []string {
	t.Helper()
	msgs := k.batch(t, in)
	r := send(t, in.p, msgs)
	if r.err != nil {
		t.Fatalf("Send of a valid batch of %d messages failed as a whole: %v", len(msgs), r.err)
	}
	accepted := checkResults(t, msgs, r.results)
	if len(accepted) == 0 {
		t.Errorf("no message of a valid batch of %d was accepted; the target's settings should let the provider accept valid messages", len(msgs))
	}
	return accepted
}

// checkResults checks one result per message, in order, each well formed.
func checkResults(t tb, msgs []sdk.Message, results []sdk.SendResult) []string {
	t.Helper()
	if len(results) != len(msgs) {
		t.Fatalf("Send of %d messages returned %d results; want exactly one per message", len(msgs), len(results))
	}
	var accepted []string
	seen := map[string]string{}
	for i, r := range results {
		if r.MessageID != msgs[i].ID {
			t.Errorf("result %d has MessageID %q; want %q (results must be in message order)", i, r.MessageID, msgs[i].ID)
		}
		switch r.Outcome {
		case sdk.Accepted:
			if r.ProviderMessageID == "" {
				t.Errorf("result %d (%s) is Accepted without a ProviderMessageID", i, r.MessageID)
				continue
			}
			if other, dup := seen[r.ProviderMessageID]; dup {
				t.Errorf("messages %s and %s were both accepted as provider id %q; status events could not tell them apart", other, r.MessageID, r.ProviderMessageID)
				continue
			}
			seen[r.ProviderMessageID] = r.MessageID
			accepted = append(accepted, r.ProviderMessageID)
		case sdk.Temporary, sdk.Permanent, sdk.OutcomeExpired, sdk.OutcomeUnavailable, sdk.OutcomeAccountError:
			if strings.TrimSpace(r.Reason) == "" {
				t.Errorf("result %d (%s) is %s without a Reason", i, r.MessageID, r.Outcome)
			}
		default:
			t.Errorf("result %d (%s) has invalid Outcome %d", i, r.MessageID, int(r.Outcome))
		}
	}
	return accepted
}

func (k *kit) testSendBatch(t tb) {
	in := k.start(t)
	k.configure(t, in)
	accepted := k.sendBatch(t, in)
	if !in.caps.StatusQuery || len(accepted) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	defer cancel()
	evs, err := in.p.(sdk.StatusQuerier).QueryStatus(ctx, accepted)
	if err != nil {
		t.Fatalf("QueryStatus of %d accepted messages: %v", len(accepted), err)
	}
	asked := map[string]bool{}
	for _, id := range accepted {
		asked[id] = true
	}
	for _, ev := range evs {
		if !asked[ev.ProviderMessageID] {
			t.Errorf("QueryStatus returned provider id %q, which was not asked for", ev.ProviderMessageID)
		}
		if !ev.Status.Valid() {
			t.Errorf("QueryStatus returned invalid status %q for %s", ev.Status, ev.ProviderMessageID)
		}
	}
}

// testSendBeforeConfigure checks that an unconfigured provider refuses to
// send instead of panicking or sending with settings it never got.
func (k *kit) testSendBeforeConfigure(t tb) {
	in := k.start(t)
	msgs := k.Messages(1)
	r := send(t, in.p, msgs)
	if r.err != nil {
		t.Logf("Send before Configure refused: %v", r.err)
		return
	}
	if len(r.results) != len(msgs) {
		t.Fatalf("Send before Configure returned %d results for %d messages and no error", len(r.results), len(msgs))
	}
	if r.results[0].Outcome == sdk.Accepted {
		t.Errorf("Send before Configure accepted message %s; an unconfigured provider must return an error", msgs[0].ID)
	}
}

// testResend sends the same message twice, as the host does when an
// answer was lost: the second answer must be sound too, and a refusal must
// say the upstream has the message.
func (k *kit) testResend(t tb) {
	in := k.start(t)
	k.configure(t, in)
	msgs := k.Messages(1)
	first := send(t, in.p, msgs)
	if first.err != nil {
		t.Fatalf("Send of a valid message failed as a whole: %v", first.err)
	}
	checkResults(t, msgs, first.results)
	again := send(t, in.p, msgs)
	if again.err != nil {
		t.Fatalf("Send of message %s a second time failed as a whole: %v; answer per message (Accepted, or Permanent with Refusal DUPLICATE)", msgs[0].ID, again.err)
	}
	checkResults(t, msgs, again.results)
	if r := again.results[0]; r.Outcome == sdk.Permanent && r.RefusalOf() != sdk.RefusalDuplicate {
		t.Errorf("the second Send of message %s was refused %s (%s); a message the upstream already has must be refused with Refusal DUPLICATE, or accepted", msgs[0].ID, r.RefusalOf(), r.Reason)
	}
	if in.caps.SentQuery && first.results[0].Outcome == sdk.Accepted {
		k.checkQuerySent(t, in, msgs[0].ID, first.results[0].ProviderMessageID, again.results[0].ProviderMessageID)
	}
}

// checkQuerySent asks for a message the provider accepted.
func (k *kit) checkQuerySent(t tb, in *instance, id string, providerIDs ...string) {
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	defer cancel()
	got, err := in.p.(sdk.SentQuerier).QuerySent(ctx, []string{id})
	if err != nil {
		t.Errorf("QuerySent of accepted message %s: %v", id, err)
		return
	}
	for _, r := range got {
		if r.MessageID == id && r.Outcome == sdk.Accepted {
			for _, p := range providerIDs {
				if r.ProviderMessageID == p {
					return
				}
			}
			t.Errorf("QuerySent answered message %s as provider id %q; Send gave %q", id, r.ProviderMessageID, providerIDs)
			return
		}
	}
	t.Errorf("QuerySent of accepted message %s answered %+v; want it Accepted", id, got)
}

func (k *kit) testSendCancelled(t tb) {
	in := k.start(t)
	k.configure(t, in)
	msgs := k.batch(t, in)

	t.Run("before", func(t tb) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		r, ok := sendWithin(ctx, t, in.p, msgs, promptTimeout)
		if !ok {
			t.Fatalf("Send with a cancelled context did not return within %s", promptTimeout)
		}
		if r.err != nil || r.panicked {
			return
		}
		if len(r.results) != len(msgs) {
			t.Fatalf("Send with a cancelled context returned %d results for %d messages and no error", len(r.results), len(msgs))
		}
		for i, res := range r.results {
			if !retriedNow(res.Outcome) {
				t.Errorf("Send with a cancelled context answered message %d (%s) %s; want an error or Temporary results", i, res.MessageID, res.Outcome)
			}
		}
	})
	t.Run("during", func(t tb) {
		ctx, cancel := context.WithCancel(t.Context())
		answer := sendAsync(ctx, t, in.p, msgs)
		cancel()
		select {
		case r := <-answer:
			if r.err == nil && !r.panicked {
				// Finished before it noticed: the results must still be sound.
				checkResults(t, msgs, r.results)
			}
		case <-time.After(promptTimeout):
			t.Fatalf("Send did not return within %s after its context was cancelled", promptTimeout)
		}
	})
}

// retriedNow reports whether o is an answer for a message that was not
// sent but may be at once: Temporary or OutcomeUnavailable.
func retriedNow(o sdk.Outcome) bool {
	return o == sdk.Temporary || o == sdk.OutcomeUnavailable
}
